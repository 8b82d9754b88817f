"""Rename detection between two trees, as git's default (`-M50%`) does it.

`find_renames(old, new, read)` pairs paths that `old` has and `new` lost
(deleted) with paths `new` gained (added):

1. **Exact renames** — the very same object id — always, whatever the file
   is: comparing ids costs nothing, so a 1 GB stem moved to another folder is
   found without reading a byte. Several candidates with one id pair up by
   the same file name first, then in path order. Empty files are never
   renames (as in git): every `.keep` is alike.
2. **Similar text files** — for what is left, a deleted and an added text
   file (no NUL in the first 8 KiB, valid UTF-8, at most SIMILARITY_CAP
   bytes; the rule `muse diff` uses) are a rename when they share at least
   half their bytes (RENAME_SIMILARITY) in whole lines: the bytes of the
   lines both hold (as many times as both hold each), over the larger size —
   git's measure, on lines rather than its 64-byte chunks. Line order does
   not matter, so moved blocks still count. Pairs are scored, then taken best
   first, each path at most once (ties: the same file name, then path order).
   Sizes too far apart to reach the threshold are never read, nor empty
   files. The deleted files' lines are indexed (at most SIMILARITY_BATCH
   bytes of them at a time, which bounds memory), so each added file is
   scored against all of them in one pass over its own lines. When deleted
   times added candidates exceed `limit`² (git's rename limit), this step is
   skipped and `Renames.skipped` says how many candidates there were, so the
   caller can say so once.

`relevant(path)` can leave deleted paths out of step 2 (a merge only needs
the ones the other side changed): exact renames ignore it.

`pair_renames(changes, …)` is what `diff`, `show` and `log` use: it turns a
change list's deletions and additions into renames (one `Change` at the new
path with `old_path`), and `rename_settings` reads a command family's
`<family>.renames` / `<family>.renameLimit` (merge's, diff's) the one way.
"""

from __future__ import annotations

import bisect
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .changes import Change
from .diff import looks_like_text
from .errors import ConfigError
from .objects import SnapshotEntry, hash_bytes

if TYPE_CHECKING:
    from .repo import Repository

RENAME_SIMILARITY = 0.5  # git's default threshold (`-M50%`)
RENAME_LIMIT = 1000  # past limit² candidate pairs, exact renames only (git's diff.renameLimit)
SIMILARITY_CAP = 8 << 20  # per file: the text-merge cap; larger files rename only exactly
SIMILARITY_BATCH = 16 << 20  # bytes of deleted files' text indexed at once (bounds memory)
EMPTY = hash_bytes(b"")


@dataclass(frozen=True)
class Rename:
    """`old` (a path of the old tree) became `new`; score 1.0 for the same object."""

    old: str
    new: str
    score: float

    @property
    def exact(self) -> bool:
        return self.score >= 1.0


@dataclass(frozen=True)
class Renames:
    """The renames found, and the candidate count when the similarity step was skipped."""

    found: list[Rename] = field(default_factory=list)
    skipped: int = 0

    def by_old(self) -> dict[str, Rename]:
        return {r.old: r for r in self.found}

    def by_new(self) -> dict[str, Rename]:
        return {r.new: r for r in self.found}


Reader = Callable[[str], bytes]  # object id → bytes
Sizer = Callable[[str], int]  # object id → size, without reading


def find_renames(old: Mapping[str, SnapshotEntry], new: Mapping[str, SnapshotEntry],
                 read: Reader, size: Sizer, *, limit: int = RENAME_LIMIT,
                 threshold: float = RENAME_SIMILARITY,
                 relevant: Callable[[str], bool] | None = None) -> Renames:
    """The renames from tree `old` to tree `new` (path → entry maps); see the module doc."""
    deleted = sorted(p for p in old if p not in new)
    added = sorted(p for p in new if p not in old)
    if not deleted or not added:
        return Renames()
    found = _exact(deleted, added, old, new)
    taken_old = {r.old for r in found}
    taken_new = {r.new for r in found}
    sources = [p for p in deleted if p not in taken_old and (relevant is None or relevant(p))]
    targets = [p for p in added if p not in taken_new]
    oids = {old[p].oid for p in sources} | {new[p].oid for p in targets}
    sizes = {oid: size(oid) for oid in oids}
    sources = [p for p in sources if 0 < sizes[old[p].oid] <= SIMILARITY_CAP]
    targets = [p for p in targets if 0 < sizes[new[p].oid] <= SIMILARITY_CAP]
    if not sources or not targets:
        return Renames(found)
    if limit > 0 and len(sources) * len(targets) > limit * limit:
        return Renames(found, skipped=max(len(sources), len(targets)))
    scored = _similar(sources, targets, old, new, sizes, read, threshold)
    scored.sort(key=lambda s: (-s[0], not s[1], s[3], s[2]))
    for score, _same, source, target in scored:
        if source in taken_old or target in taken_new:
            continue
        taken_old.add(source)
        taken_new.add(target)
        found.append(Rename(source, target, score))
    found.sort(key=lambda r: r.old)
    return Renames(found)


def _exact(deleted: list[str], added: list[str], old: Mapping[str, SnapshotEntry],
           new: Mapping[str, SnapshotEntry]) -> list[Rename]:
    """Deleted and added paths holding the same object, paired by file name, then in order."""
    gone: dict[str, list[str]] = {}
    for path in deleted:
        if old[path].oid != EMPTY:  # empty files (`.keep`) are alike, not renamed (git)
            gone.setdefault(old[path].oid, []).append(path)
    came: dict[str, list[str]] = {}
    for path in added:
        if new[path].oid in gone:
            came.setdefault(new[path].oid, []).append(path)
    found: list[Rename] = []
    for oid, targets in came.items():
        sources = gone[oid]
        found.extend(_pair_by_name(sources, targets))
    return found


def _pair_by_name(sources: list[str], targets: list[str]) -> Iterable[Rename]:
    left_sources, left_targets = list(sources), []
    for target in targets:
        name = os.path.basename(target)
        match = next((s for s in left_sources if os.path.basename(s) == name), None)
        if match is None:
            left_targets.append(target)
        else:
            left_sources.remove(match)
            yield Rename(match, target, 1.0)
    for source, target in zip(left_sources, left_targets, strict=False):
        yield Rename(source, target, 1.0)


def _similar(sources: list[str], targets: list[str], old: Mapping[str, SnapshotEntry],
             new: Mapping[str, SnapshotEntry], sizes: Mapping[str, int], read: Reader,
             threshold: float) -> list[tuple[float, bool, str, str]]:
    """(score, same file name, source, target) for every pair at or above `threshold`.

    The sources' lines go into an index (line → the sources holding it, and how often),
    at most SIMILARITY_BATCH bytes of them at a time; each target's lines then add up
    its shared bytes with every source at once, so unrelated files cost nothing per
    pair. Shared bytes never exceed the smaller file, so a pair whose sizes are too far
    apart can never score enough: objects with no partner of a near size are not read.
    """
    source_sizes = sorted(sizes[old[p].oid] for p in sources)
    target_sizes = sorted(sizes[new[p].oid] for p in targets)
    sources = [p for p in sources if _fits(sizes[old[p].oid], target_sizes, threshold)]
    targets = [p for p in targets if _fits(sizes[new[p].oid], source_sizes, threshold)]
    scored: list[tuple[float, bool, str, str]] = []
    binary: set[str] = set()
    for batch in _batches(sources, lambda p: sizes[old[p].oid]):
        index: dict[bytes, list[tuple[int, int]]] = {}
        held: list[str] = []
        for path in batch:
            counts = _line_counts(read(old[path].oid))
            if counts is None:
                continue
            for line, n in counts.items():
                index.setdefault(line, []).append((len(held), n))
            held.append(path)
        if not held:
            continue
        for target in targets:
            oid = new[target].oid
            if oid in binary:
                continue
            counts = _line_counts(read(oid))
            if counts is None:
                binary.add(oid)
                continue
            shared: dict[int, int] = {}
            for line, n in counts.items():
                for i, m in index.get(line, ()):
                    shared[i] = shared.get(i, 0) + len(line) * min(n, m)
            for i, common in shared.items():
                source = held[i]
                score = common / max(sizes[old[source].oid], sizes[oid], 1)
                if score >= threshold:
                    same_name = os.path.basename(source) == os.path.basename(target)
                    scored.append((score, same_name, source, target))
    return scored


def _fits(size: int, others: list[int], threshold: float) -> bool:
    """Whether some size in sorted `others` is near enough to `size` to reach `threshold`."""
    at = bisect.bisect_left(others, size * threshold)
    return at < len(others) and others[at] * threshold <= size


def _batches(paths: list[str], size: Callable[[str], int]) -> Iterable[list[str]]:
    """`paths` in runs of at most SIMILARITY_BATCH bytes (one file alone may exceed it)."""
    batch: list[str] = []
    total = 0
    for path in paths:
        if batch and total + size(path) > SIMILARITY_BATCH:
            yield batch
            batch, total = [], 0
        batch.append(path)
        total += size(path)
    if batch:
        yield batch


def _line_counts(data: bytes) -> Counter[bytes] | None:
    """Each line of a text object with how often it occurs; None for binary."""
    return Counter(data.splitlines(keepends=True)) if looks_like_text(data) else None


EntryReader = Callable[[SnapshotEntry], bytes]  # one side's file → its bytes (whole)


def pair_renames(changes: list[Change], read_old: EntryReader, read_new: EntryReader, *,
                 limit: int = RENAME_LIMIT) -> tuple[list[Change], int]:
    """`changes` (sorted by path) with each deleted + added pair `find_renames` pairs made
    one rename at the new path, in the new path's place as git orders them; and the
    candidate count when the similarity step was skipped (0 when it was not).

    Only the deleted and added files are looked at, and only those of `changes` (so a
    pathspec limits the candidates, as in git); contents are read as `find_renames`
    reads them: never an exact rename's, never a file too large or too unlike in size.
    """
    old = {c.path: c.old for c in changes if c.new is None and c.old is not None}
    new = {c.path: c.new for c in changes if c.old is None and c.new is not None}
    if not old or not new:
        return changes, 0
    gone = {entry.oid: entry for entry in old.values()}
    came = {entry.oid: entry for entry in new.values()}
    sizes = {oid: entry.size for oid, entry in (*came.items(), *gone.items())}

    def read(oid: str) -> bytes:
        return read_old(gone[oid]) if oid in gone else read_new(came[oid])

    found = find_renames(old, new, read, sizes.__getitem__, limit=limit)
    if not found.found:
        return changes, found.skipped
    by_new, by_old = found.by_new(), found.by_old()
    paired: list[Change] = []
    for change in changes:
        if change.new is None and change.path in by_old:
            continue  # the rename stands at its new path
        rename = by_new.get(change.path) if change.old is None else None
        if rename is not None:
            change = replace(change, old=old[rename.old], old_path=rename.old,
                             score=rename.score)
        paired.append(change)
    return paired, found.skipped


@dataclass(frozen=True)
class RenameSettings:
    """`<family>.renames` (on unless false) and `<family>.renameLimit` (0: no limit)."""

    enabled: bool
    limit: int
    limit_key: str

    def pair(self, changes: list[Change], read_old: EntryReader, read_new: EntryReader
             ) -> tuple[list[Change], int]:
        """`pair_renames` as these settings have it: `changes` as they are when off."""
        if not self.enabled:
            return changes, 0
        return pair_renames(changes, read_old, read_new, limit=self.limit)

    def skipped_warning(self, skipped: int) -> str:
        """The one line said when the similarity step was skipped (exact renames still are)."""
        done = "followed" if self.limit_key.startswith("merge.") else "detected"
        return (f"inexact rename detection was skipped: {skipped} candidate files is more "
                f"than {self.limit_key} ({self.limit}); only exact renames were {done} "
                f"(set {self.limit_key} to at least {skipped} to compare them all)")


def rename_settings(repo: Repository, family: str) -> RenameSettings:
    """`family`'s rename settings (`merge`, `diff`): a bad value is a ConfigError."""
    from .config import boolean

    renames_key, limit_key = f"{family}.renames", f"{family}.renameLimit"
    raw = repo.config_value(renames_key) or "true"
    enabled = boolean(raw)
    if enabled is None:
        raise ConfigError(f"{renames_key} is {raw.strip().lower()!r}: it must be true or false",
                          hint=f"muse config {renames_key} false")
    text = repo.config_value(limit_key)
    limit = RENAME_LIMIT
    if text is not None:
        try:
            limit = int(text.strip())
        except ValueError:
            limit = -1
        if limit < 0:
            raise ConfigError(f"{limit_key} is {text!r}: it must be a whole number "
                              "of files (0: no limit)",
                              hint=f"muse config {limit_key} {RENAME_LIMIT}")
    return RenameSettings(enabled, limit, limit_key)
