"""Maintenance of a remote without a server (a bare directory, an S3 prefix): gc and count.

One algorithm over the `Bucket` primitives (`remotes.bucket`), as pushes are:

- fold: the packs `refs.json` names become one complete pack, written locally
  from packs every byte of which was verified here, stored create-only (data
  first), then named instead of them by a compare-and-swap of `refs.json`;
- drop: packs no refs document names go once older than the cutoff, their
  index before their bundle (a bundle without an index is never served);
- count: where the bytes are, and what gc would reclaim.

A replaced pack must stay readable for a grace period (a fetch may have chosen
it a moment ago), and a bucket cannot re-date a key. So before the swap a
fold stores an empty marker `packs/pack-ID.replaced` beside each pack it
replaces: the store dates it, in the store's own clock, and an unnamed pack's
age is that of its newest key (docs/gc.md, "Inside a bucket remote").

`BareRemote` (`remotes.bare`) is this class over a directory, with its
`gc.lock`, its `tmp/` and its config file. The core never imports this module.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from muse.bundle import plan_bundle, write_bundle
from muse.config import user_config
from muse.errors import (
    ConfigError,
    CorruptObjectError,
    MuseError,
    RemoteError,
    RepositoryError,
    UsageError,
)
from muse.gc import (
    AUTO_PACKS_KEY,
    DEFAULT_AUTO_PACKS,
    DEFAULT_PRUNE,
    HALF_INSTALLED_AFTER,
    PRUNE_KEY,
    prune_cutoff,
    whole_number,
)
from muse.graph import CommitGraph
from muse.midx import KIND_CODES, MultiPackIndex, build_index
from muse.receive import verify_pack
from muse.remote import RemoteOptions
from muse.store import ObjectBatch, ObjectStore
from muse.transfer import NoProgress, TransferProgress
from muse.units import human_size
from muse.workfiles import Leftovers

from .bucket import (
    EMPTY_DOC,
    PACKS_PREFIX,
    REFS_KEY,
    SWAP_ATTEMPTS,
    Bucket,
    Hook,
    KeyInfo,
    PackIndex,
    RefsDoc,
    decode_pack_index,
    decode_refs_doc,
    encode_refs_doc,
    index_key,
    index_problems,
    pack_graph,
    pack_key,
    verified_index,
)
from .geometric import geometric_tail, pack_order, write_union

REMOTE_STEPS = ("locked", "stored", "swapped", "dropped", "swept")
SUFFIXES = ("index", "bundle", "replaced")  # a pack's keys, in the order gc deletes them
READ_ONLY_HINT = "a remote's refs move only by push: push to it from a clone"


def marker_key(pack_id: str) -> str:
    """The empty key whose write time says when a fold stopped naming `pack_id`."""
    return f"{PACKS_PREFIX}pack-{pack_id}.replaced"


# -- the packs as an object store ---------------------------------------------------


class _Rows:
    """A JSON `.index` read as the rows a multi-pack index is built from."""

    def __init__(self, index: PackIndex) -> None:
        self.index = index

    def raw_rows(self) -> Iterator[tuple[bytes, int, int, bytes]]:
        for e in self.index.entries:
            yield bytes.fromhex(e.oid), e.offset, e.size, KIND_CODES[e.kind]


class BucketStore(ObjectStore):
    """Packs in bucket layout (`ROOT/packs/pack-ID.bundle` + `.index`) as an object store:
    every `.index` present, indexed in memory.

    Read-only: nothing is written next to the packs (no multi-pack index file), so the
    directory stays exactly the bucket layout every driver shares.
    """

    def _idx_path(self, pack_id: str) -> Path:
        return self.packs_dir / f"pack-{pack_id}.index"

    def _pack_ids_on_disk(self) -> set[str]:
        try:
            names = list(self.packs_dir.iterdir())
        except FileNotFoundError:
            return set()
        return {p.name[5:-6] for p in names
                if p.name.startswith("pack-") and p.name.endswith(".index")}

    def pack_index(self, pack_id: str) -> PackIndex:
        path = self._idx_path(pack_id)
        return decode_pack_index(path.read_bytes(), str(path))

    def _open_pack_index(self, pack_id: str) -> _Rows:  # type: ignore[override]
        try:
            return _Rows(self.pack_index(pack_id))
        except RemoteError as exc:
            raise CorruptObjectError(exc.message) from None

    def read_multi_pack_index(self) -> MultiPackIndex | None:
        return None

    def _load_index(self) -> MultiPackIndex:
        good = []
        for pack_id in sorted(self._pack_ids_on_disk()):
            with contextlib.suppress(CorruptObjectError, OSError):
                good.append((pack_id, self._open_pack_index(pack_id)))
        return build_index(good)  # type: ignore[arg-type]

    def _update_index(self, change: object) -> MultiPackIndex:
        raise RepositoryError("this is a bare remote: packs arrive only by push",
                              hint=READ_ONLY_HINT)

    def batch(self) -> ObjectBatch:
        # Refused before the first byte: `tag -a` in a bare remote stored its tag object as
        # a loose file under objects/, then found the refs read-only (a stray nothing names).
        raise RepositoryError("this is a bare remote: objects arrive only by push",
                              hint=READ_ONLY_HINT)


def bundle_problems(path: Path, index: PackIndex) -> Iterator[str]:
    """A pack's bytes at `path` verified as a bundle, streaming, and compared with its index."""
    try:
        with open(path, "rb") as stream:
            verified = verify_pack(stream, None)
    except FileNotFoundError:
        yield f"pack {index.pack} is missing its bundle"
        return
    except MuseError as exc:
        yield f"pack {index.pack} does not verify as a bundle: {exc.message}"
        return
    yield from index_problems(index, verified_index(verified))


# -- reports --------------------------------------------------------------------------


@dataclass
class RemoteGcReport:
    """What gc did to a remote."""

    ran: bool = False
    packs_before: int = 0
    packs_after: int = 0
    folded_into: str | None = None   # the pack the named packs were folded into
    folded_packs: int = 0
    dropped_packs: int = 0           # unnamed packs older than the grace period, deleted
    dropped_bytes: int = 0
    kept_unnamed: int = 0            # unnamed packs still within the grace period
    work_files_removed: int = 0
    cutoff: float | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class RemoteCounts:
    """Where a remote's bytes are."""

    named_packs: int = 0
    named_bytes: int = 0
    unnamed_packs: int = 0           # no refs document names them: garbage after the grace
    unnamed_bytes: int = 0
    prunable_packs: int = 0
    prunable_bytes: int = 0
    work_files: Leftovers = field(default_factory=Leftovers)

    @property
    def reclaimable_bytes(self) -> int:
        return self.prunable_bytes + self.work_files.stale_size

    def as_dict(self) -> dict[str, object]:
        return {"packs": {"named": self.named_packs, "named_bytes": self.named_bytes,
                          "unnamed": self.unnamed_packs, "unnamed_bytes": self.unnamed_bytes},
                "prunable": {"packs": self.prunable_packs, "bytes": self.prunable_bytes},
                "work_files": {"entries": self.work_files.entries,
                               "bytes": self.work_files.size,
                               "stale_entries": self.work_files.stale_entries,
                               "stale_bytes": self.work_files.stale_size},
                "reclaimable_bytes": self.reclaimable_bytes}

    def lines(self) -> list[str]:
        return [f"packs named by refs: {self.named_packs} ({human_size(self.named_bytes)})",
                f"packs no ref relies on: {self.unnamed_packs} "
                f"({human_size(self.unnamed_bytes)}), {self.prunable_packs} past the grace "
                f"period ({human_size(self.prunable_bytes)})",
                f"work files: {self.work_files.entries}, {self.work_files.stale_entries} stale",
                f"reclaimable by gc: {human_size(self.reclaimable_bytes)}"]


@dataclass(frozen=True)
class StoredPack:
    """One pack id's keys in the bucket (bundle, index, replaced marker), as listed."""

    keys: tuple[KeyInfo, ...]

    @property
    def size(self) -> int:
        return sum(k.size for k in self.keys)

    @property
    def newest(self) -> float:
        return max(k.modified for k in self.keys)

    @property
    def is_pack(self) -> bool:
        """A bundle or an index is here (a marker left alone by a killed gc is not a pack)."""
        return any(not k.key.endswith(".replaced") for k in self.keys)


# -- the algorithm ----------------------------------------------------------------------


class BucketMaintenance:
    """gc and count of the remote in `bucket`, over the `Bucket` primitives.

    `setting(key)` reads gc.pruneExpire and gc.autoPacks (default: the user's config);
    `clock` is the time cutoffs are measured from; `workspace` is where the named
    packs are copied to be folded (default: the system's temporary folder).
    """

    def __init__(self, bucket: Bucket, *, url: str,
                 setting: Callable[[str], str | None] | None = None,
                 hook: Hook | None = None, clock: Callable[[], float] = time.time,
                 workspace: Path | None = None) -> None:
        self.bucket = bucket
        self.url = url
        self._setting_of = setting or (lambda key: user_config().get(key))
        self._hook: Hook = hook or (lambda step: None)
        self._clock = clock
        self._workspace = workspace
        # What a person watching sees of a fold's transfers (a bar on a terminal).
        self.progress: TransferProgress = NoProgress()

    # -- what a driver may change ------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Held throughout a gc. A bucket has none: two gcs meet only at compare-and-swaps."""
        yield

    @contextlib.contextmanager
    def _local_packs(self, doc: RefsDoc) -> Iterator[Path]:
        """A folder whose `packs/` holds every pack `doc` names, each verified in full."""
        with tempfile.TemporaryDirectory(prefix="muse-gc-", dir=self._workspace) as work:
            root = Path(work)
            (root / "packs").mkdir()
            self.progress.phase("downloading", None)
            for pack_id in sorted(doc.packs):
                self._copy_verified(pack_id, doc.packs[pack_id], root / "packs")
            yield root

    def _sweep(self) -> int:
        return 0  # a bucket has no work folder: an upload in progress is never a key

    def _survey(self) -> Leftovers:
        return Leftovers()

    # -- reading -------------------------------------------------------------------------

    def _where(self, key: str) -> str:
        return f"{self.url.rstrip('/')}/{key}"

    def _read(self) -> tuple[RefsDoc, str | None]:
        found = self.bucket.get(REFS_KEY)
        if found is None:
            return EMPTY_DOC, None
        return decode_refs_doc(found.data, self._where(REFS_KEY)), found.tag

    def _stored(self) -> dict[str, StoredPack]:
        """Every pack id with a key under packs/ → its keys."""
        found: dict[str, list[KeyInfo]] = {}
        for info in self.bucket.list_info(PACKS_PREFIX):
            name = info.key[len(PACKS_PREFIX):]
            stem, dot, suffix = name.rpartition(".")
            if name.startswith("pack-") and dot and suffix in SUFFIXES:
                found.setdefault(stem[5:], []).append(info)
        return {p: StoredPack(tuple(keys)) for p, keys in found.items()}

    def _pack_count(self) -> int:
        return sum(s.is_pack for s in self._stored().values())

    def check_exists(self) -> None:
        """RemoteError unless the bucket holds a remote (a refs document, or pushed packs)."""
        if self.bucket.get(REFS_KEY) is None and not self._pack_count():
            raise RemoteError(f"no Muse remote at {self.url}: it holds no refs and no packs",
                              hint="check the URL (bucket and prefix), or push to it first")

    def setting(self, key: str) -> str | None:
        return self._setting_of(key)

    def cutoff(self, requested: str | None) -> float | None:
        """The grace period's cutoff, floored: a pack younger than HALF_INSTALLED_AFTER is
        never dropped, since a push stores its pack before its refs name it."""
        now = self._clock()
        if requested is not None:
            found = prune_cutoff(requested, now=now)
        else:
            try:
                found = prune_cutoff(self.setting(PRUNE_KEY) or DEFAULT_PRUNE, now=now)
            except UsageError as exc:
                raise ConfigError(f"{PRUNE_KEY}: {exc.message}", hint=exc.hint) from None
        return None if found is None else min(found, now - HALF_INSTALLED_AFTER)

    def auto_packs(self) -> int:
        return whole_number(AUTO_PACKS_KEY, self.setting(AUTO_PACKS_KEY), DEFAULT_AUTO_PACKS)

    # -- gc --------------------------------------------------------------------------------

    def gc(self, *, prune: str | None = None, auto: bool = False) -> RemoteGcReport:
        """Fold the named packs into one (when there are several), then drop unnamed packs
        past the grace period; with `auto`, only above gc.autoPacks named packs, and only
        the newest packs, geometrically (`remotes.geometric`).

        Steps a hook sees (REMOTE_STEPS): `locked`; `stored` (the folded pack and its
        index are stored, unnamed); `swapped` (refs.json names it); `dropped`; `swept`.
        """
        cutoff = self.cutoff(prune)
        report = RemoteGcReport(cutoff=cutoff)
        limit = self.auto_packs()
        if auto and (not limit or len(self._read()[0].packs) <= limit):
            return report  # after every push: one read of refs.json, nothing listed
        report.packs_before = self._pack_count()
        with self._lock():
            report.ran = True
            self._hook("locked")
            doc, _ = self._read()
            if len(doc.packs) > 1 and doc.refs:
                if auto:
                    self._fold_geometric(doc, report)
                else:
                    self._fold(doc, report)
            self._drop_unnamed(cutoff, report)
            self._hook("dropped")
            report.work_files_removed = self._sweep()
            self._hook("swept")
        report.packs_after = self._pack_count()
        return report

    def _fold(self, doc: RefsDoc, report: RemoteGcReport) -> None:
        """Write one pack of all the refs reach and swap the refs document to name it in
        place of the packs it replaces; packs pushed meanwhile stay named as they are."""
        with self._local_packs(doc) as root:
            store = BucketStore(root)
            plan = plan_bundle(CommitGraph(store), dict(doc.refs),
                               sorted(set(doc.refs.values())), [])

            def write(out: BinaryIO) -> PackIndex:
                summary = write_bundle(store, plan, out)  # every object re-hashed
                return PackIndex(summary.bundle_id, summary.size, (),
                                 pack_graph(plan.parents, plan.tag_targets), summary.entries)

            index = self._store_fold(store, write)
        self._install(index, set(doc.packs) - {index.pack}, report)

    def _fold_geometric(self, doc: RefsDoc, report: RemoteGcReport) -> None:
        """Fold only the newest packs, so that each pack left is at least twice the total
        of the ones after it; all of them (a complete pack) when that takes every one."""
        indexes = {p: self._pack_index(p) for p in sorted(doc.packs)}
        sizes = {p: index.size for p, index in indexes.items()}  # checked before folding
        tail = geometric_tail(pack_order(indexes, sizes), sizes)
        if len(tail) == len(doc.packs):
            self._fold(doc, report)
            return
        if len(tail) < 2:
            return
        chosen = RefsDoc(doc.refs, {p: doc.packs[p] for p in tail})
        with self._local_packs(chosen) as root:
            store = BucketStore(root)
            verified = [store.pack_index(p) for p in tail]  # as copied and checked here
            index = self._store_fold(store, lambda out: write_union(store.packs_dir, verified,
                                                                    out))
        self._install(index, set(tail) - {index.pack}, report)

    def _store_fold(self, store: ObjectStore,
                    write: Callable[[BinaryIO], PackIndex]) -> PackIndex:
        """The folded pack `write` produces, in the work folder, then stored with its index."""
        work = store.new_tmp_file(".bundle")  # a bare remote's tmp/, like an upload
        try:
            with open(work, "wb") as out:
                index = write(out)
            self.progress.phase("uploading", index.size)
            self.bucket.put_if_absent(pack_key(index.pack), work, sha256=index.pack,
                                      disposable=True, progress=self.progress.advance)
            self.progress.finish()
            self.bucket.put_if_absent(index_key(index.pack), index.encode())
            self._hook("stored")
        finally:
            with contextlib.suppress(FileNotFoundError):
                work.unlink()
        return index

    def _install(self, index: PackIndex, replaced: set[str], report: RemoteGcReport) -> None:
        """Name `index.pack` instead of `replaced`. The replaced packs stay, each with a
        fresh marker, until a later gc finds them past the grace period: a fetch that
        chose them a moment ago can still read them."""
        self._mark(replaced)  # before the swap: a kill after it must not lose the dates
        if self._swap_packs(index, replaced):
            self._hook("swapped")
            report.folded_into, report.folded_packs = index.pack, len(replaced)
        else:
            for pack_id in replaced:
                self.bucket.delete(marker_key(pack_id))  # still named: nothing changed

    def _copy_verified(self, pack_id: str, commits: tuple[str, ...], into: Path) -> None:
        """Copy one named pack and its index into `into`, streaming, and verify it all there
        as a receiver would; RemoteError (nothing changed) at the first problem."""
        found = self.bucket.get(index_key(pack_id))
        if found is None:
            raise self._damaged(pack_id, "it has no index")
        index = decode_pack_index(found.data, self._where(index_key(pack_id)))
        bundle = into / f"pack-{pack_id}.bundle"
        # Verified as it is written down: one pass over the bytes, not a copy and a re-read.
        with self.bucket.open_range(pack_key(pack_id)) as stream, open(bundle, "wb") as out:
            try:
                verified = verify_pack(stream, None, sink=out.write,
                                       progress=self.progress.advance)
            except MuseError as exc:
                raise self._damaged(pack_id, f"it does not verify as a bundle: "
                                    f"{exc.message}") from None
        problems = list(index_problems(index, verified_index(verified)))
        if index.pack != pack_id:
            problems.insert(0, f"its index says it is pack {index.pack}")
        if not set(commits) <= set(index.commits):
            problems.append(f"{REFS_KEY} says it provides commits its index lacks")
        if problems:
            raise self._damaged(pack_id, problems[0])
        (into / f"pack-{pack_id}.index").write_bytes(found.data)

    def _damaged(self, pack_id: str, why: str) -> RemoteError:
        return RemoteError(f"pack {pack_id} of {self.url} does not verify: {why}; gc changed "
                           "nothing", code="remote-corrupt",
                           hint="restore that pack from a backup, or push its commits again "
                           "from a clone; `muse verify` inside a bare remote lists every problem")

    def _mark(self, replaced: set[str]) -> None:
        """A fresh marker beside each pack about to be replaced: the store dates it now."""
        for pack_id in sorted(replaced):
            if not self.bucket.put_if_absent(marker_key(pack_id), b""):
                # An older marker (a fold given up, or killed before its swap): renew it.
                self.bucket.delete(marker_key(pack_id))
                self.bucket.put_if_absent(marker_key(pack_id), b"")

    def _swap_packs(self, index: PackIndex, replaced: set[str]) -> bool:
        """Name `index.pack` instead of `replaced` by compare-and-swap; False (nothing
        changed) when the refs moved to a commit the folded pack and the others lack."""
        kept_requires: dict[str, tuple[str, ...]] = {}
        for _attempt in range(SWAP_ATTEMPTS):
            doc, tag = self._read()
            if tag is None:
                return False
            packs = {p: c for p, c in doc.packs.items() if p not in replaced}
            packs[index.pack] = tuple(index.commits)
            provided = RefsDoc({}, packs).commits()
            if any(c not in provided for c in doc.refs.values()):
                return False
            for other in sorted(set(packs) - {index.pack}):
                if other not in kept_requires:
                    kept_requires[other] = self._pack_index(other).requires
                if any(r not in provided for r in kept_requires[other]):
                    return False
            if self.bucket.put_if_match(REFS_KEY, encode_refs_doc(doc.refs, packs),
                                        tag) is not None:
                return True
        return False

    def _pack_index(self, pack_id: str) -> PackIndex:
        found = self.bucket.get(index_key(pack_id))
        if found is None:
            raise self._damaged(pack_id, "it has no index")
        return decode_pack_index(found.data, self._where(index_key(pack_id)))

    def _drop_unnamed(self, cutoff: float | None, report: RemoteGcReport) -> None:
        named = set(self._read()[0].packs)
        for pack_id, stored in sorted(self._stored().items()):
            if pack_id in named:
                continue
            if cutoff is None or stored.newest >= cutoff:
                report.kept_unnamed += stored.is_pack
                continue
            # The index goes first: a bundle without one is never served.
            for info in sorted(stored.keys, key=lambda k: SUFFIXES.index(
                    k.key.rpartition(".")[2])):
                self.bucket.delete(info.key)
                report.dropped_bytes += info.size
            report.dropped_packs += stored.is_pack

    # -- count -----------------------------------------------------------------------------

    def count(self) -> RemoteCounts:
        counts = RemoteCounts()
        named = set(self._read()[0].packs)
        cutoff = self.cutoff(None)
        for pack_id, stored in self._stored().items():
            if not stored.is_pack:
                continue
            if pack_id in named:
                counts.named_packs += 1
                counts.named_bytes += stored.size
                continue
            counts.unnamed_packs += 1
            counts.unnamed_bytes += stored.size
            if cutoff is not None and stored.newest < cutoff:
                counts.prunable_packs += 1
                counts.prunable_bytes += stored.size
        counts.work_files = self._survey()
        return counts


def open_maintenance(url: str, options: RemoteOptions | None = None) -> BucketMaintenance:
    """Maintenance of the remote at `url`, opened by its driver as a push opens it (the
    registry, the remote's settings and credentials); UsageError for a remote with a
    server of its own, RemoteError when nothing is there."""
    from muse.remote_registry import open_remote
    from muse.remote_wrappers import DEFAULT_RETRIES

    from .bucket import BucketRemote
    from .fs import FsRemote

    # No retry wrapper runs above a gc (a rerun repeats its work): the driver retries
    # each request itself, as often as the wrapper would retry a call.
    options = replace(options or RemoteOptions(), request_attempts=DEFAULT_RETRIES)
    remote = open_remote(url, options)
    if isinstance(remote, FsRemote):
        from .bare import open_bare_remote

        return open_bare_remote(remote.root)
    if not isinstance(remote, BucketRemote):
        remote.close()
        raise UsageError(f"{url} is not a remote Muse maintains from here",
                         hint="gc and count-objects work on bare filesystem remotes and "
                         "bucket remotes (s3://bucket/prefix); a hub maintains its own "
                         "storage")
    found = BucketMaintenance(remote.bucket, url=url)
    found.check_exists()
    return found
