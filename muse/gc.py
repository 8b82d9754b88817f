"""Garbage collection: many packs and loose objects become one pack; what nothing reaches goes.

`collect` (what `muse gc` runs), in this order, each step safe to be killed at:

1. `gc.lock` is taken (one gc at a time); the packs and loose objects present
   now are the only ones this run may remove: whatever a concurrent push,
   fetch or commit writes after this instant is left alone.
2. mark: everything `repository_roots` names (refs, HEAD, reflogs, the stash,
   merge state) and all it reaches. A root ref naming a missing object stops
   gc before anything is written: a damaged repository is `verify`'s to report.
3. pack: what the refs reach is written as one new pack (a complete bundle of
   the repository, every object re-hashed) and installed before anything is
   removed.
4. unpack: objects nothing reaches that are younger than the grace period
   (`--prune`, `gc.pruneExpire`, default 2 weeks, by mtime), and everything
   they reach, are kept as loose files dated as they were, so a later gc can
   still age them out; so are roots the new pack does not hold (a merge
   conflict's blobs).
5. drop: the packs of step 1 go, with one rewrite of the multi-pack index.
6. prune: loose objects of step 1 that are now packed, or unreachable and
   older than the grace period, are removed.
7. sweep: work files killed commands left, and half-installed pack files.

After a kill at any step the repository verifies and has lost nothing
reachable: data is always written (step 3, 4) before its old copy is removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .dates import point_in_time
from .errors import (
    ConfigError,
    ConflictError,
    MissingObjectError,
    RefConflictError,
    RepositoryError,
    UsageError,
)
from .lockfile import locked
from .objects import decode_commit, decode_tag, is_object_id
from .reflog_expire import Cutoffs, expire_reflogs
from .refs import TRANSFERABLE
from .repo import Repository
from .storage import COMMIT, SNAPSHOT, TAG
from .store import MIDX_LOCK, MIDX_NAME, ObjectStore
from .workfiles import Leftovers, survey, sweep

GC_LOCK = "gc.lock"
DEFAULT_PRUNE = "2.weeks.ago"
PRUNE_KEY = "gc.pruneExpire"
AUTO_PACKS_KEY = "gc.autoPacks"
AUTO_LOOSE_KEY = "gc.auto"
DEFAULT_AUTO_PACKS = 50
DEFAULT_AUTO_LOOSE = 6700
# A pack file without its `.idx` is being installed (the `.idx` is written last) unless
# it is this old: only then is it a killed install's leftover.
HALF_INSTALLED_AFTER = 3600.0
STASH_LIST = "stash.list"
NO_ID = "0" * 64
# Where a test hooks in (SIGKILL at each step); each is called with its name.
STEPS = ("locked", "marked", "packed", "unpacked", "dropped", "pruned", "swept")
Hook = Callable[[str], None]

# -- when is old enough: `--prune` and gc.pruneExpire --------------------------------

def prune_cutoff(text: str, *, now: float | None = None) -> float | None:
    """The mtime before which unreachable data may go; None for `never` (muse.dates)."""
    return point_in_time(text, now=now, what="expiry")


def configured_cutoff(repo: Repository, requested: str | None = None) -> float | None:
    """The cutoff `--prune` asks for, else gc.pruneExpire, else two weeks ago."""
    return cutoff_setting(repo, requested, PRUNE_KEY, DEFAULT_PRUNE)


def cutoff_setting(repo: Repository, requested: str | None, key: str,
                   default: str) -> float | None:
    """The cutoff an option asks for (a usage error if unreadable), else config `key`
    (a config error if unreadable), else `default`."""
    if requested is not None:
        return prune_cutoff(requested)
    try:
        return prune_cutoff(repo.config_value(key) or default)
    except UsageError as exc:
        raise ConfigError(f"{key}: {exc.message}", hint=exc.hint) from None


# -- what must be kept: the roots ---------------------------------------------------------

_HEX_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")


@dataclass(frozen=True)
class Roots:
    """What gc starts marking from. `required` (refs, HEAD) must be stored whole; the
    rest (reflogs, stash, merge state) are records, and an id they name that is gone
    is skipped."""

    required: frozenset[str]
    recorded: frozenset[str]

    @property
    def all(self) -> frozenset[str]:
        return self.required | self.recorded


def repository_roots(repo: Repository) -> Roots:
    """Every id a repository keeps alive, read from its files (the one place that says so):

    - every ref under `refs/` and a detached HEAD (required);
    - every 64-hex id in the first two space-separated fields of each line of
      every file under `logs/` (reflogs: `<old> <new> <unix-ts> <identity>\\t<message>`);
    - each line's id in `stash.list` (a commit id per line);
    - every id in the merge state: MERGE_HEAD, MERGE_CONFLICTS (its blobs too), and
      any other `*_HEAD` file at the top of the repository (ORIG_HEAD, …).

    A damaged ref refuses (RepositoryError): what it named cannot be known, so
    nothing may be pruned.
    """
    required = set(repo.refs.list().values())
    head = repo.refs.head_commit()
    if head is not None:
        required.add(head)
    recorded: set[str] = set()
    root = repo.muse_dir
    for log in _files_under(root / "logs"):
        for line in _lines(log):
            recorded.update(v for v in line.split(" ", 2)[:2] if is_object_id(v))
    for line in _lines(root / STASH_LIST):
        recorded.update(_HEX_ID.findall(line)[:1])
    for path in _merge_state_files(root):
        for line in _lines(path):
            recorded.update(_HEX_ID.findall(line))
    # 64 zeros is how a reflog writes "none" (a ref created or deleted): no object.
    return Roots(frozenset(required), frozenset(recorded - required - {NO_ID}))


def _files_under(folder: Path) -> Iterator[Path]:
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            yield Path(dirpath) / name


def _lines(path: Path) -> list[str]:
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return []
    # Undecodable bytes cannot spell an id; they must not stop gc from reading the rest.
    return data.decode("utf-8", errors="replace").splitlines()


def _merge_state_files(root: Path) -> list[Path]:
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    return [root / n for n in sorted(names)
            if (n.endswith("_HEAD") or n.startswith("MERGE_")) and n != "HEAD"]


# -- marking ------------------------------------------------------------------------------


def reach(store: ObjectStore, roots: Iterable[str], *, strict: bool = True) -> set[str]:
    """Every id reachable from `roots` (commits → parents and snapshot → objects).

    `strict`: an id that should be stored and is not raises MissingObjectError;
    otherwise the walk skips it (ids a reflog or a young object names).
    """
    from .bundle import stored_rows  # only when gc runs: `gc --auto` checks stay light

    seen: set[str] = set()
    stack = [r for r in roots if is_object_id(r)]
    blobs: set[str] = set()
    while stack:
        oid = stack.pop()
        if oid in seen:
            continue
        kind = store.kind(oid)
        if kind is None:
            if strict:
                raise MissingObjectError(f"object {oid} is missing",
                                         hint="run `muse verify`; gc changes nothing while "
                                         "something reachable is missing")
            continue
        seen.add(oid)
        if kind == COMMIT:
            commit = decode_commit(store.read(oid))
            stack.extend(commit.parents)
            stack.append(commit.snapshot)
        elif kind == TAG:
            stack.append(decode_tag(store.read(oid)).target)
        elif kind == SNAPSHOT:
            # The rows of a stored (re-hashed, once validated) snapshot: no strict decode.
            for row in stored_rows(store, oid)[1]:
                blobs.add(row[1].hex())
    absent = store.missing(blobs - seen)
    if absent and strict:
        raise MissingObjectError(f"object {min(absent)} is missing",
                                 hint="run `muse verify`; gc changes nothing while something "
                                 "reachable is missing")
    return seen | (blobs - absent)


# -- collecting ---------------------------------------------------------------------------


@dataclass
class GcReport:
    """What one gc did."""

    packs_before: int = 0
    packs_after: int = 0
    loose_before: int = 0
    loose_after: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    pack: str | None = None          # the pack written, None when nothing needed packing
    packed_objects: int = 0          # items in it
    kept_loose: int = 0              # young unreachable objects (and roots) kept loose
    pruned_objects: int = 0          # stored objects gone for good
    work_files_removed: int = 0
    garbage_removed: int = 0         # half-installed pack files and temp files in packs/
    cutoff: float | None = None      # unreachable data older than this went
    reflog_entries_expired: int = 0  # before marking (gc.reflogExpire…)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def collect(repo: Repository, *, cutoff: float | None, hook: Hook | None = None,
            reflogs: Cutoffs | None = None) -> GcReport:
    """Pack what the roots reach into one pack, keep young unreachable objects loose,
    drop the rest that existed when gc started (module docstring), sweep work files.
    With `reflogs`, old reflog entries are expired first (muse.reflog_expire)."""
    if repo.muse_dir.joinpath("refs.json").exists():
        raise RepositoryError("this is a bare filesystem remote: its packs are kept by its "
                              "refs document", hint="run `muse gc` inside it through the "
                              "command line, or `muse gc --remote PATH`")
    step: Hook = hook or (lambda name: None)
    started = time.monotonic()
    store = repo.store
    report = GcReport(cutoff=cutoff)
    with _gc_lock(repo.muse_dir):
        step("locked")
        if reflogs is not None:
            report.reflog_entries_expired = expire_reflogs(repo, reflogs).total_removed
        # What may be removed is listed before the roots are read: a pack or object
        # that arrives later is never removed, and one a ref read later names arrived first.
        packs = store.list_packs()
        loose = list(store.all_loose_ids())
        report.packs_before, report.loose_before = len(packs), len(loose)
        report.bytes_before = storage_bytes(store)
        roots = repository_roots(repo)
        store.refresh_index()  # sees every pack the roots may rely on
        ages = _ages(store, packs, loose)
        kept = _mark(store, roots, ages, cutoff)
        step("marked")
        in_pack = _pack_reachable(repo, roots, packs, loose, kept, report)
        # Roots that moved while packing (a commit, a fetch) keep what they reach too.
        later = repository_roots(repo)
        if later != roots:
            store.refresh_index()
            kept |= reach(store, later.all - kept, strict=False)
        step("packed")
        # Kept, and stored at the start but not in the new pack: only an old pack may hold
        # it, so it is copied out before the old packs go (a new pack's objects stay put).
        outside = {oid for oid in kept - in_pack if oid in ages}
        loose_set = set(loose)
        for oid in sorted(outside - loose_set):
            store.unpack_object(oid, mtime=ages[oid])
        report.kept_loose = len(outside)
        step("unpacked")
        store.delete_packs([p for p in packs if p != report.pack])
        step("dropped")
        for oid in loose:
            if oid in in_pack or oid not in kept:
                store.remove_loose(oid)
        report.pruned_objects = len(set(ages) - kept)
        step("pruned")
        report.work_files_removed = sweep(store.tmp_dir)
        report.garbage_removed = _sweep_packs_dir(store)
        step("swept")
        report.packs_after = len(store.list_packs())
        report.loose_after = sum(1 for _ in store.all_loose_ids())
        report.bytes_after = storage_bytes(store)
    report.seconds = time.monotonic() - started
    return report


def _mark(store: ObjectStore, roots: Roots, ages: dict[str, float],
          cutoff: float | None) -> set[str]:
    """What gc keeps: all the roots reach, and all that objects younger than `cutoff` reach."""
    reachable = reach(store, roots.required)
    reachable |= reach(store, roots.recorded - reachable, strict=False)
    young = {oid for oid, age in ages.items()
             if oid not in reachable and (cutoff is None or age >= cutoff)}
    return reachable | reach(store, young, strict=False)


@contextlib.contextmanager
def _gc_lock(muse_dir: Path, *, wait: float = 0.5) -> Iterator[None]:
    try:
        with locked(muse_dir / GC_LOCK, what="gc", wait=wait):
            yield
    except RefConflictError as exc:
        if not exc.message.startswith("gc is locked"):
            raise
        raise ConflictError("another `muse gc` is running on this repository",
                            hint="wait for it to finish", code="gc-running") from None


def _ages(store: ObjectStore, packs: list[str], loose: list[str]) -> dict[str, float]:
    """Every object stored at the start → its mtime (a packed one: its newest pack's)."""
    pack_time = {}
    for pack in packs:
        with contextlib.suppress(FileNotFoundError):
            pack_time[pack] = os.stat(store.packs_dir / f"pack-{pack}.bundle").st_mtime
    ages: dict[str, float] = {}
    wanted = set(pack_time)
    for raw, pack, _offset, _size, _code in store.index.rows():
        if pack in wanted:
            oid = raw.hex()
            ages[oid] = max(ages.get(oid, 0.0), pack_time[pack])
    for oid in loose:
        with contextlib.suppress(FileNotFoundError):
            ages[oid] = max(ages.get(oid, 0.0),
                            os.stat(store.objects_dir / oid[:2] / oid[2:]).st_mtime)
    return ages


def _pack_reachable(repo: Repository, roots: Roots, packs: list[str], loose: list[str],
                    kept: set[str], report: GcReport) -> set[str]:
    """Write and install the one pack of everything the refs reach; the ids it holds.

    Nothing is written when the store is one pack already holding exactly that.
    """
    from .bundle import plan_bundle, write_bundle

    store = repo.store
    # Tag objects too: each travels into the pack with its commit's history.
    tips = sorted(oid for oid in roots.all if oid in kept and store.kind(oid) in (COMMIT, TAG))
    if not tips:
        return set()
    refs = {n: v for n, v in repo.refs.list().items() if n.startswith(TRANSFERABLE)}
    plan = plan_bundle(repo.graph, refs, tips, [])
    held = ({oid for oid, _ in plan.objects} | set(plan.snapshots) | set(plan.commits)
            | set(plan.tags))
    if len(packs) == 1 and not loose and set(store.index.all_ids()) == held:
        report.pack, report.packed_objects = packs[0], len(held)
        return held
    tmp = store.new_tmp_file(".bundle")
    try:
        with open(tmp, "wb") as out:
            summary = write_bundle(store, plan, out)  # re-hashes every object it copies
        store.put_pack(summary.bundle_id, tmp, summary.entries)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    report.pack, report.packed_objects = summary.bundle_id, len(summary.entries)
    return held


def _sweep_packs_dir(store: ObjectStore, *, now: float | None = None) -> int:
    """Remove pack files whose install was killed (no `.idx`, over an hour old) and
    temporary files an interrupted index write left in `packs/`."""
    clock = time.time() if now is None else now
    removed = 0
    for path, st in _garbage_in_packs(store):
        if clock - st.st_mtime > HALF_INSTALLED_AFTER:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
    return removed


def _garbage_in_packs(store: ObjectStore) -> Iterator[tuple[Path, os.stat_result]]:
    """Files in `packs/` that are no part of an installed pack or of the multi-pack index."""
    indexed = set(store.list_packs())
    try:
        names = os.listdir(store.packs_dir)
    except FileNotFoundError:
        return
    for name in names:
        if name in (MIDX_NAME, MIDX_LOCK) or name.startswith(MIDX_LOCK):
            continue
        if name.startswith("pack-") and name.endswith((".bundle", ".idx")):
            pack_id = name[5:].rsplit(".", 1)[0]
            if pack_id in indexed:
                continue
        path = store.packs_dir / name
        with contextlib.suppress(FileNotFoundError):
            st = os.lstat(path)
            if not os.path.isdir(path):
                yield path, st


def storage_bytes(store: ObjectStore) -> int:
    """What the object store takes on disk: loose objects and every file in packs/."""
    total = 0
    for folder in (store.objects_dir, store.packs_dir):
        for path in _files_under(folder):
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(path).st_size
    return total


# -- counting -----------------------------------------------------------------------------


@dataclass
class ObjectCounts:
    """What `muse count-objects` reports: where the bytes are and how many gc would free."""

    loose_objects: int = 0
    loose_bytes: int = 0
    packs: int = 0
    pack_bytes: int = 0
    packed_objects: int = 0
    duplicate_objects: int = 0       # extra copies: in several packs, or loose and packed
    duplicate_bytes: int = 0
    unreachable_objects: int = 0     # nothing reaches them (prunable or not yet)
    unreachable_bytes: int = 0
    prunable_objects: int = 0        # unreachable and older than the grace period
    prunable_bytes: int = 0
    garbage_files: int = 0           # half-installed packs, temp files in packs/
    garbage_bytes: int = 0
    work_files: Leftovers = field(default_factory=Leftovers)

    @property
    def reclaimable_bytes(self) -> int:
        """About what `muse gc` frees now: prunable objects, extra copies, garbage, stale
        work files (frame headers aside)."""
        return (self.prunable_bytes + self.duplicate_bytes + self.garbage_bytes
                + self.work_files.stale_size)

    def as_dict(self) -> dict[str, object]:
        return {
            "loose": {"objects": self.loose_objects, "bytes": self.loose_bytes},
            "packed": {"packs": self.packs, "objects": self.packed_objects,
                       "bytes": self.pack_bytes},
            "duplicates": {"objects": self.duplicate_objects, "bytes": self.duplicate_bytes},
            "unreachable": {"objects": self.unreachable_objects,
                            "bytes": self.unreachable_bytes},
            "prunable": {"objects": self.prunable_objects, "bytes": self.prunable_bytes},
            "garbage": {"files": self.garbage_files, "bytes": self.garbage_bytes},
            "work_files": {"entries": self.work_files.entries, "bytes": self.work_files.size,
                           "stale_entries": self.work_files.stale_entries,
                           "stale_bytes": self.work_files.stale_size},
            "reclaimable_bytes": self.reclaimable_bytes,
        }


def count_objects(repo: Repository, *, cutoff: float | None) -> ObjectCounts:
    """Count loose, packed, duplicated, unreachable and garbage data; nothing is written."""
    store = repo.store
    counts = ObjectCounts()
    sizes: dict[str, int] = {}
    copies: dict[str, int] = {}
    for oid in store.all_loose_ids():
        with contextlib.suppress(FileNotFoundError):
            size = os.stat(store.objects_dir / oid[:2] / oid[2:]).st_size
            counts.loose_objects += 1
            counts.loose_bytes += size
            sizes[oid] = size
            copies[oid] = 1
    packs = store.list_packs()
    counts.packs = len(packs)
    for pack in packs:
        for suffix in (".bundle", ".idx"):
            with contextlib.suppress(FileNotFoundError):
                counts.pack_bytes += os.stat(store.packs_dir / f"pack-{pack}{suffix}").st_size
    packed: set[str] = set()
    for raw, _pack, _offset, size, _code in store.index.rows():
        oid = raw.hex()
        packed.add(oid)
        sizes[oid] = size
        copies[oid] = copies.get(oid, 0) + 1
    counts.packed_objects = len(packed)
    for oid, n in copies.items():
        if n > 1:
            counts.duplicate_objects += n - 1
            counts.duplicate_bytes += (n - 1) * sizes[oid]
    roots = repository_roots(repo)
    reachable = reach(store, roots.all, strict=False)
    ages = _ages(store, packs, list(sizes.keys() - packed))
    for oid in sizes.keys() - reachable:
        counts.unreachable_objects += 1
        counts.unreachable_bytes += sizes[oid]
        if cutoff is not None and ages.get(oid, 0.0) < cutoff:
            counts.prunable_objects += 1
            counts.prunable_bytes += sizes[oid] * copies[oid]
    for _path, st in _garbage_in_packs(store):
        counts.garbage_files += 1
        counts.garbage_bytes += st.st_size
    counts.work_files = survey(store.tmp_dir)
    return counts


# -- gc --auto ----------------------------------------------------------------------------


def whole_number(key: str, value: str | None, default: int) -> int:
    """A threshold setting's value (`default` when unset); ConfigError when it is no number."""
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{key} must be a whole number, not {value!r}",
                          hint=f"`muse config {key} {default}`; 0 turns it off") from None
    return max(number, 0)


def _int_setting(repo: Repository, key: str, default: int) -> int:
    return whole_number(key, repo.config_value(key), default)


def auto_needed(repo: Repository) -> bool:
    """Whether gc --auto has work: more packs than gc.autoPacks (default 50), or about more
    loose objects than gc.auto (default 6,700; estimated from one fan folder, like git)."""
    packs_limit = _int_setting(repo, AUTO_PACKS_KEY, DEFAULT_AUTO_PACKS)
    loose_limit = _int_setting(repo, AUTO_LOOSE_KEY, DEFAULT_AUTO_LOOSE)
    if packs_limit and len(repo.store.list_packs()) > packs_limit:
        return True
    if loose_limit:
        try:
            sample = len(os.listdir(repo.store.objects_dir / "17"))
        except FileNotFoundError:
            sample = 0
        return sample * 256 > loose_limit
    return False


def collect_auto(repo: Repository, *, cutoff: float | None,
                 reflogs: Cutoffs | None = None) -> GcReport | None:
    """`gc --auto`: collect when `auto_needed`; None when there was nothing to do or another
    gc is running (never an error for the command that triggered it)."""
    if not auto_needed(repo):
        return None
    try:
        return collect(repo, cutoff=cutoff, reflogs=reflogs)
    except ConflictError:
        return None


__all__ = ["DEFAULT_PRUNE", "STEPS", "GcReport", "ObjectCounts", "Roots",
           "auto_needed", "collect", "collect_auto", "configured_cutoff", "count_objects",
           "cutoff_setting", "prune_cutoff", "reach", "repository_roots", "storage_bytes",
           "whole_number"]
