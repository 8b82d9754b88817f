"""Geometric folding of a remote's packs: which packs `gc --auto` folds, and how.

An automatic fold takes only the newest, smallest packs, so that each pack left
is at least twice the total of the ones after it (`FACTOR`; git's `repack
--geometric=2`): a pack is rewritten O(log n) times over its life, and the
whole history only once what arrived since the last fold is half its size.

"Newest" is an order of the packs in which every pack comes after the packs
holding a commit it requires (`pack_order`); the fold is a suffix of that
order, so no pack left out of the fold requires a commit of one in it, and the
folded pack only requires commits of packs left out: no cycle between packs,
and the fetch's pack choice (`remotes.bucket.choose_packs`) holds as it is.
The folded pack carries every item of the packs it replaces, once
(`write_union`), and needs what they needed from the others.
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

from muse.bundle import Progress, write_items
from muse.frames import read_stored
from muse.graph import parents_first
from muse.storage import COMMIT, PackEntry

from .bucket import PackIndex

FACTOR = 2


def pack_order(indexes: Mapping[str, PackIndex], sizes: Mapping[str, int]) -> list[str]:
    """Every pack after each pack holding a commit it requires; among packs free to go
    next, the largest first (then by id), so small recent packs end the order."""
    holders: dict[str, set[str]] = {}
    for pack_id, index in indexes.items():
        for commit in index.commits:
            holders.setdefault(commit, set()).add(pack_id)
    needs = {p: {h for r in index.requires for h in holders.get(r, ())} - {p}
             for p, index in indexes.items()}
    waiting = {p: set(n) for p, n in needs.items()}
    dependents: dict[str, set[str]] = {}
    for pack_id, needed in needs.items():
        for other in needed:
            dependents.setdefault(other, set()).add(pack_id)
    ready = [(-sizes.get(p, 0), p) for p, n in waiting.items() if not n]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, pack_id = heapq.heappop(ready)
        order.append(pack_id)
        for later in sorted(dependents.get(pack_id, ())):
            waiting[later].discard(pack_id)
            if not waiting[later]:
                heapq.heappush(ready, (-sizes.get(later, 0), later))
    # Packs in a cycle (a damaged remote) never become free: they are never folded.
    return order


def geometric_tail(order: Sequence[str], sizes: Mapping[str, int]) -> list[str]:
    """The end of `order` to fold so that each pack before it is at least FACTOR times
    the total after it (the fold counted as their sum); empty when that holds already."""
    after = 0
    first_short: int | None = None
    for i in range(len(order) - 1, -1, -1):
        if sizes[order[i]] < FACTOR * after:
            first_short = i
        after += sizes[order[i]]
    if first_short is None:
        return []
    return list(order[first_short:])


def union_parts(indexes: Sequence[PackIndex]) -> tuple[list[PackEntry], dict[str, str],
                                                      dict[str, tuple[str, ...]], list[str]]:
    """What one pack replacing `indexes` (in pack order) holds: its items, each once (commits
    parents first), the pack each is read from, its graph rows, and what it requires."""
    source: dict[str, str] = {}
    items: list[PackEntry] = []
    graph: dict[str, tuple[str, ...]] = {}
    for index in indexes:
        graph.update(index.commits)
        for entry in index.entries:
            if entry.oid not in source:
                source[entry.oid] = index.pack
                items.append(entry)
    commits = parents_first([e.oid for e in items if e.kind == COMMIT],
                            lambda c: graph.get(c, ()))
    by_id = {e.oid: e for e in items}
    items = [e for e in items if e.kind != COMMIT] + [by_id[c] for c in commits]
    requires = sorted({r for index in indexes for r in index.requires} - set(graph))
    return items, source, graph, requires


def write_union(packs_dir: Path, indexes: Sequence[PackIndex], out: BinaryIO, *,
                progress: Progress | None = None) -> PackIndex:
    """One pack of every item of `indexes` (in pack order), read from their bundles in
    `packs_dir` and re-hashed on the way; its index. `progress` hears the bytes read."""
    items, source, graph, requires = union_parts(indexes)
    with contextlib.ExitStack() as stack:
        handles = {i.pack: stack.enter_context(open(packs_dir / f"pack-{i.pack}.bundle", "rb"))
                   for i in indexes}

        def read(entry: PackEntry) -> Iterator[bytes]:
            for chunk in read_stored(handles[source[entry.oid]], entry.offset, entry.size):
                if progress is not None:
                    progress(len(chunk))
                yield chunk

        summary = write_items(read, items, requires, out)
    return PackIndex(summary.bundle_id, summary.size, tuple(requires), graph, summary.entries)
