"""A bare filesystem remote seen from inside: its refs document as refs, its packs as a store.

Inside a remote made by `muse init --bare DIR` and pushed to, the refs live in
`refs.json` and the objects in `packs/pack-ID.bundle` with JSON `.index` files
(`remotes.bucket`): not where a repository keeps them. `RemoteRepository` is a
read-only `Repository` over that layout, so `muse log`, `muse branch` and
`muse verify` work inside a remote, and `verify` also checks every named pack
against its `.index` and the refs document against the packs.

`BareRemote` adds maintenance: `gc` drops packs no refs document names once
they are older than the grace period (the pack of a push the remote refused),
folds the named packs into one when there are many, and `count` reports where
the bytes are. The core never imports this module; the command line does.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from muse.bundle import plan_bundle, write_bundle
from muse.config import ConfigFile, user_config
from muse.errors import (
    ConfigError,
    ConflictError,
    CorruptObjectError,
    MuseError,
    RefConflictError,
    RemoteError,
    RepositoryError,
    UsageError,
)
from muse.gc import (
    AUTO_PACKS_KEY,
    DEFAULT_AUTO_PACKS,
    DEFAULT_PRUNE,
    GC_LOCK,
    HALF_INSTALLED_AFTER,
    PRUNE_KEY,
    prune_cutoff,
    whole_number,
)
from muse.graph import CommitGraph
from muse.lockfile import locked
from muse.midx import KIND_CODES, MultiPackIndex, build_index
from muse.receive import verify_pack
from muse.reflog import DamagedLine, ReflogEntry
from muse.refs import RefStore, RefUpdate
from muse.repo import Repository
from muse.store import ObjectBatch, ObjectStore
from muse.units import human_size
from muse.workfiles import Leftovers, survey, sweep

from .bucket import (
    EMPTY_DOC,
    PACKS_PREFIX,
    REFS_KEY,
    Hook,
    PackIndex,
    RefsDoc,
    decode_pack_index,
    decode_refs_doc,
    encode_refs_doc,
    index_key,
    pack_graph,
    pack_key,
)
from .fs import TMP_DIR, DirBucket

REMOTE_STEPS = ("locked", "stored", "swapped", "dropped", "swept")
_READ_ONLY_HINT = "a remote's refs move only by push: push to it from a clone"


def is_bare_remote(path: Path) -> bool:
    """A bare repository holding a bucket layout (a refs document, or pushed packs)."""
    if not (path / "HEAD").is_file() or not (path / "objects").is_dir():
        return False
    if (path / REFS_KEY).is_file():
        return True
    with contextlib.suppress(OSError):
        return any(n.endswith(".index") for n in os.listdir(path / "packs"))
    return False


def _read_doc(root: Path) -> RefsDoc:
    try:
        raw = (root / REFS_KEY).read_bytes()
    except FileNotFoundError:
        return EMPTY_DOC
    return decode_refs_doc(raw, str(root / REFS_KEY))


# -- refs: the refs document ------------------------------------------------------------


class DocumentRefs(RefStore):
    """The refs of `refs.json`, read once; HEAD is the bare repository's own file."""

    def __init__(self, root: Path, doc: RefsDoc, problem: str | None = None) -> None:
        super().__init__(root)
        self.doc = doc
        self.problem = problem  # why refs.json cannot be read: every read says so

    def _check(self) -> None:
        if self.problem is not None:
            raise RepositoryError(self.problem, hint="restore refs.json from a backup, or "
                                  "rewrite it from a clone's remote-tracking refs")

    def read(self, name: str) -> str | None:
        self._check()
        return self.doc.refs.get(name)

    def names(self, prefix: str = "refs/") -> list[str]:
        self._check()
        return sorted(n for n in self.doc.refs if n.startswith(prefix))

    def transaction(self, updates: list[RefUpdate], message: str) -> None:  # type: ignore[override]
        raise RepositoryError("this is a bare remote: its refs cannot be changed here",
                              hint=_READ_ONLY_HINT)

    def set_head(self, target: str, message: str) -> None:
        raise RepositoryError("this is a bare remote: its HEAD cannot be changed here",
                              hint=_READ_ONLY_HINT)

    def reflog(self, name: str) -> Iterator[ReflogEntry | DamagedLine]:
        return iter(())  # a remote keeps no reflog


# -- objects: the packs and their JSON indexes ----------------------------------------


class _Rows:
    """A JSON `.index` read as the rows a multi-pack index is built from."""

    def __init__(self, index: PackIndex) -> None:
        self.index = index

    def raw_rows(self) -> Iterator[tuple[bytes, int, int, bytes]]:
        for e in self.index.entries:
            yield bytes.fromhex(e.oid), e.offset, e.size, KIND_CODES[e.kind]


class BucketStore(ObjectStore):
    """The remote's packs as an object store: every `.index` present, indexed in memory.

    Read-only: nothing is written next to the packs (no multi-pack index file), so the
    directory stays exactly the bucket layout every driver shares.
    """

    def _idx_path(self, pack_id: str) -> Path:
        return self.packs_dir / f"pack-{pack_id}.index"

    def _pack_ids_on_disk(self) -> set[str]:
        try:
            names = os.listdir(self.packs_dir)
        except FileNotFoundError:
            return set()
        return {n[5:-6] for n in names if n.startswith("pack-") and n.endswith(".index")}

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
                              hint=_READ_ONLY_HINT)

    def batch(self) -> ObjectBatch:
        # Refused before the first byte: `tag -a` here stored its tag object as a loose
        # file under objects/, then found the refs read-only (a stray nothing names).
        raise RepositoryError("this is a bare remote: objects arrive only by push",
                              hint=_READ_ONLY_HINT)


class RemoteRepository(Repository):
    """A bare filesystem remote as a read-only repository (log, branch, verify)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, None)
        self.doc_problem: str | None = None
        try:
            doc = _read_doc(root)
        except RemoteError as exc:
            self.doc_problem = exc.message  # verify reports it; nothing else can be read
            doc = EMPTY_DOC
        self.doc = doc
        self.packs = BucketStore(root)
        self.store = self.packs
        self.refs = DocumentRefs(root, doc, self.doc_problem)
        self.graph = CommitGraph(self.store)

    def storage_problems(self) -> Iterator[tuple[str, str]]:
        """The refs document, and every pack it names checked in full against its index."""
        if self.doc_problem is not None:
            return  # reading the refs reports it
        provided = self.doc.commits()
        for name, commit in sorted(self.doc.refs.items()):
            if commit not in provided:
                yield name, f"ref {name} names commit {commit}, which no pack provides"
        for pack_id, commits in sorted(self.doc.packs.items()):
            yield from self._pack_problems(pack_id, set(commits), provided)

    def _pack_problems(self, pack_id: str, commits: set[str],
                       provided: dict[str, str]) -> Iterator[tuple[str, str]]:
        where = f"packs/pack-{pack_id}"
        try:
            index = self.packs.pack_index(pack_id)
        except FileNotFoundError:
            yield where, f"pack {pack_id} named by {REFS_KEY} has no index"
            return
        except RemoteError as exc:
            yield where, exc.message
            return
        if index.pack != pack_id:
            yield where, f"the index of pack {pack_id} says it is pack {index.pack}"
        if not commits <= set(index.commits):
            yield where, f"{REFS_KEY} says pack {pack_id} provides commits its index lacks"
        for oid in index.requires:
            if oid not in provided:
                yield where, f"pack {pack_id} builds on commit {oid}, which no pack provides"
        yield from ((where, m) for m in _bundle_problems(self.store.packs_dir, index))


def _bundle_problems(packs_dir: Path, index: PackIndex) -> Iterator[str]:
    """A pack's bytes verified as a bundle, streaming, and compared with its index rows."""
    path = packs_dir / f"pack-{index.pack}.bundle"
    try:
        size = path.stat().st_size
        with open(path, "rb") as stream:
            verified = verify_pack(stream, None)
    except FileNotFoundError:
        yield f"pack {index.pack} is missing its bundle"
        return
    except MuseError as exc:
        yield f"pack {index.pack} does not verify as a bundle: {exc.message}"
        return
    if verified.pack_id != index.pack:
        yield f"pack {index.pack} hashes to {verified.pack_id}"
    if size != index.size:
        yield f"pack {index.pack} is {size} bytes; its index says {index.size}"
    if set(verified.entries) != set(index.entries):
        yield f"pack {index.pack}'s index rows disagree with its bundle"
    if pack_graph(verified.parents, verified.tags) != dict(index.commits):
        yield f"pack {index.pack}'s index lists other commits than its bundle carries"


# -- maintenance ----------------------------------------------------------------------


@dataclass
class RemoteGcReport:
    """What gc did to a bare remote."""

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
    """Where a bare remote's bytes are."""

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


class BareRemote:
    """Maintenance of a bare filesystem remote at `root`."""

    def __init__(self, root: Path, *, hook: Hook | None = None) -> None:
        self.root = root
        self.bucket = DirBucket(root)
        self.config = ConfigFile(root / "config")
        self._hook: Hook = hook or (lambda step: None)

    def _setting(self, key: str) -> str | None:
        return self.config.get(key) or user_config().get(key)

    def cutoff(self, requested: str | None) -> float | None:
        """The grace period's cutoff, floored: a pack younger than HALF_INSTALLED_AFTER is
        never dropped, since a push stores its pack before its refs name it."""
        if requested is not None:
            found = prune_cutoff(requested)
        else:
            try:
                found = prune_cutoff(self._setting(PRUNE_KEY) or DEFAULT_PRUNE)
            except UsageError as exc:
                raise ConfigError(f"{PRUNE_KEY}: {exc.message}", hint=exc.hint) from None
        return None if found is None else min(found, time.time() - HALF_INSTALLED_AFTER)

    def _pack_files(self) -> dict[str, list[Path]]:
        """Every pack id present (bundle or index) → its files."""
        found: dict[str, list[Path]] = {}
        for key in self.bucket.list(PACKS_PREFIX):
            name = key[len(PACKS_PREFIX):]
            stem, dot, suffix = name.rpartition(".")
            if name.startswith("pack-") and dot and suffix in ("bundle", "index"):
                found.setdefault(stem[5:], []).append(self.root / key)
        return found

    def auto_packs(self) -> int:
        return whole_number(AUTO_PACKS_KEY, self._setting(AUTO_PACKS_KEY), DEFAULT_AUTO_PACKS)

    def gc(self, *, prune: str | None = None, auto: bool = False) -> RemoteGcReport:
        """Fold the named packs into one (when there are several), then drop unnamed packs
        past the grace period; with `auto`, only above gc.autoPacks named packs.

        Steps a hook sees (REMOTE_STEPS): `locked`; `stored` (the folded pack and its
        index are stored, unnamed); `swapped` (refs.json names it); `dropped`; `swept`.
        """
        cutoff = self.cutoff(prune)
        report = RemoteGcReport(cutoff=cutoff)
        limit = self.auto_packs()
        if auto and (not limit or len(_read_doc(self.root).packs) <= limit):
            return report  # after every push: one read of refs.json, nothing listed
        report.packs_before = len(self._pack_files())
        try:
            with locked(self.root / GC_LOCK, what="gc", wait=0.5):
                report.ran = True
                self._hook("locked")
                doc = _read_doc(self.root)
                if len(doc.packs) > 1:
                    self._fold(doc, report)
                self._drop_unnamed(cutoff, report)
                self._hook("dropped")
                report.work_files_removed = sweep(self.root / TMP_DIR)
                self._hook("swept")
        except RefConflictError as exc:
            if not exc.message.startswith("gc is locked"):
                raise
            raise ConflictError("another `muse gc` is running on this remote",
                                hint="wait for it to finish", code="gc-running") from None
        report.packs_after = len(self._pack_files())
        return report

    def _drop_unnamed(self, cutoff: float | None, report: RemoteGcReport) -> None:
        named = set(_read_doc(self.root).packs)
        for pack_id, files in sorted(self._pack_files().items()):
            if pack_id in named:
                continue
            newest = max((_mtime(f) for f in files), default=0.0)
            if cutoff is None or newest >= cutoff:
                report.kept_unnamed += 1
                continue
            # The index goes first: a bundle without one is never served.
            for f in sorted(files, key=lambda p: not p.name.endswith(".index")):
                with contextlib.suppress(FileNotFoundError):
                    size = f.stat().st_size
                    f.unlink()
                    report.dropped_bytes += size
            report.dropped_packs += 1

    def _fold(self, doc: RefsDoc, report: RemoteGcReport) -> None:
        """Write one pack of all the refs reach and swap the refs document to name it in
        place of the packs it replaces; packs pushed meanwhile stay named as they are.

        The replaced packs stay on disk, dated now, until a later gc finds them past the
        grace period: a fetch that chose them a moment ago can still read them.
        """
        view = RemoteRepository(self.root)
        if view.doc_problem is not None or not doc.refs:
            return
        plan = plan_bundle(view.graph, dict(doc.refs), sorted(set(doc.refs.values())), [])
        work = view.store.new_tmp_file(".bundle")  # in the remote's tmp/, like an upload
        try:
            with open(work, "wb") as out:
                summary = write_bundle(view.store, plan, out)
            index = PackIndex(summary.bundle_id, summary.size, (),
                              pack_graph(plan.parents, plan.tag_targets), summary.entries)
            self.bucket.put_if_absent(pack_key(index.pack), work, sha256=index.pack,
                                      disposable=True)
            self.bucket.put_if_absent(index_key(index.pack), index.encode())
            self._hook("stored")
        finally:
            with contextlib.suppress(FileNotFoundError):
                work.unlink()
        replaced = set(doc.packs) - {index.pack}
        if self._swap_packs(index, replaced):
            self._hook("swapped")
            report.folded_into, report.folded_packs = index.pack, len(replaced)
            now = time.time()
            for pack_id in replaced:
                for key in (pack_key(pack_id), index_key(pack_id)):
                    with contextlib.suppress(FileNotFoundError):
                        os.utime(self.root / key, (now, now))

    def _swap_packs(self, index: PackIndex, replaced: set[str]) -> bool:
        """Name `index.pack` instead of `replaced` by compare-and-swap; False (nothing
        changed) when the refs moved to a commit the folded pack and the others lack."""
        for _attempt in range(50):
            found = self.bucket.get(REFS_KEY)
            if found is None:
                return False
            doc = decode_refs_doc(found.data, str(self.root / REFS_KEY))
            packs = {p: c for p, c in doc.packs.items() if p not in replaced}
            packs[index.pack] = tuple(index.commits)
            provided = RefsDoc({}, packs).commits()
            if any(c not in provided for c in doc.refs.values()):
                return False
            for other in set(packs) - {index.pack}:
                other_index = decode_pack_index(
                    (self.root / index_key(other)).read_bytes(), other)
                if any(r not in provided for r in other_index.requires):
                    return False
            if self.bucket.put_if_match(REFS_KEY, encode_refs_doc(doc.refs, packs),
                                        found.tag) is not None:
                return True
        return False

    def count(self) -> RemoteCounts:
        counts = RemoteCounts()
        named = set(_read_doc(self.root).packs)
        cutoff = self.cutoff(None)
        for pack_id, files in self._pack_files().items():
            size = sum(_size(f) for f in files)
            if pack_id in named:
                counts.named_packs += 1
                counts.named_bytes += size
                continue
            counts.unnamed_packs += 1
            counts.unnamed_bytes += size
            if cutoff is not None and max(_mtime(f) for f in files) < cutoff:
                counts.prunable_packs += 1
                counts.prunable_bytes += size
        counts.work_files = survey(self.root / TMP_DIR)
        return counts


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def open_bare_remote(path: Path) -> BareRemote:
    """The bare filesystem remote at `path`, for maintenance; RemoteError if it is not one."""
    root = Path(path).absolute()
    if not is_bare_remote(root):
        raise RemoteError(f"no bare filesystem remote at {root}",
                          hint="give the folder of a remote made by `muse init --bare` "
                          "and pushed to")
    return BareRemote(root)
