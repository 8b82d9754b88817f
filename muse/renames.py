"""Rename detection between two trees, as git's default (`-M50%`) does it.

`find_renames(old, new, read)` pairs paths that `old` has and `new` lost
(deleted) with paths `new` gained (added):

1. **Exact renames** — the very same object id — always, whatever the file
   is: comparing ids costs nothing, so a 1 GB stem moved to another folder is
   found without reading a byte. Several candidates with one id pair up by
   the same file name first, then in path order.
2. **Similar text files** — for what is left, a deleted and an added text
   file (no NUL in the first 8 KiB, valid UTF-8, at most SIMILARITY_CAP
   bytes; the rule `muse diff` uses) are a rename when they share at least
   half their bytes (RENAME_SIMILARITY) in whole lines: the bytes of the
   lines both hold (as many times as both hold each), over the larger size —
   git's measure, on lines rather than its 64-byte chunks. Line order does
   not matter, so moved blocks still count. Pairs are scored, then taken best
   first, each path at most once (ties: the same file name, then path order).
   Sizes too far apart to reach the threshold are never read, nor empty
   files. When deleted times added candidates exceed `limit`² (git's rename
   limit), this step is skipped and `Renames.skipped` says how many
   candidates there were, so the caller can say so once.

`relevant(path)` can leave deleted paths out of step 2 (a merge only needs
the ones the other side changed): exact renames ignore it.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from .diff import looks_like_text
from .objects import SnapshotEntry

RENAME_SIMILARITY = 0.5  # git's default threshold (`-M50%`)
RENAME_LIMIT = 200  # past limit² candidate pairs, exact renames only (git: renameLimit)
SIMILARITY_CAP = 8 << 20  # per file: the text-merge cap; larger files rename only exactly


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
    lines = _LineCounts(read)
    scored: list[tuple[float, bool, str, str]] = []
    for target in targets:
        t_oid = new[target].oid
        t_size = sizes[t_oid]
        for source in sources:
            s_oid = old[source].oid
            s_size = sizes[s_oid]
            if min(s_size, t_size) < threshold * max(s_size, t_size):
                continue  # cannot share enough bytes: never read
            score = lines.similarity(s_oid, t_oid, max(s_size, t_size))
            if score >= threshold:
                same_name = os.path.basename(source) == os.path.basename(target)
                scored.append((score, same_name, source, target))
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


class _LineCounts:
    """Each text object's lines with their counts, read once; None for binary."""

    def __init__(self, read: Reader) -> None:
        self.read = read
        self.known: dict[str, Counter[bytes] | None] = {}

    def counts(self, oid: str) -> Counter[bytes] | None:
        if oid not in self.known:
            data = self.read(oid)
            self.known[oid] = Counter(data.splitlines(keepends=True)) \
                if looks_like_text(data) else None
        return self.known[oid]

    def similarity(self, a: str, b: str, largest: int) -> float:
        """Bytes of the lines both objects hold (as often as both hold them), over `largest`."""
        if a == b:
            return 1.0
        ca, cb = self.counts(a), self.counts(b)
        if ca is None or cb is None:
            return 0.0
        shared = sum(len(line) * min(ca[line], cb[line]) for line in ca.keys() & cb.keys())
        return shared / max(largest, 1)
