"""Fetch negotiation on the hub: which packs a client needs, reading only what it lacks.

The answer is exactly `remotes.bucket.choose_packs` over the whole commit graph
(`full_walk`, kept here as the reference and the fallback), computed without
loading that graph. Every commit row carries its generation (1 for a root, else
1 + its parents' highest); a child's is always above its parents'. The walk keeps
one priority queue, highest generation first, of commits reached from the wants
(W) and from the client's haves the hub knows (H):

- a commit is taken from the queue only after every commit above it that the walk
  will ever reach, so its colour is final then: H (an ancestor of a have: the
  client holds it) or W only (the client lacks it);
- its parents enter with its colour; a branch of the walk reaching a commit the
  client has therefore turns H, and
- the walk ends as soon as no W-only commit is left: whatever lies below an H
  commit is the client's.

A client with no have the hub knows (a clone) lacks the whole history of its wants:
that is one query for the whole graph, as ever. Otherwise rows are read a
generation level at a time, one query for the whole frontier
(`CommitSource.nodes`); a long walk (a clone, a client far behind) switches to
reading generation bands of doubling width (`CommitSource.band`), so it costs
O(log n) queries, never one per commit. A pack's prerequisite is checked by going
on with the H walk down to its generation. A row of unknown generation (a database
half migrated, a row an older hub inserted) sends the whole fetch to `full_walk`,
so no database ever gets a wrong answer.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from muse.graph import parents_first

from ..bucket import choose_packs

WANT, HAVE = 1, 2
# Level-by-level queries before the walk reads generation bands instead.
EXACT_QUERIES = 8
FIRST_BAND = 64


class Node(NamedTuple):
    """One row of the commit graph: the pack providing it, its parents, its generation."""

    pack: str
    parents: tuple[str, ...]
    generation: int | None


class CommitSource(Protocol):
    """One repository's commit rows, as the negotiation reads them."""

    def nodes(self, oids: Collection[str]) -> dict[str, Node]:
        """The rows of those of `oids` the repository holds (a query per batch of ids)."""
        ...

    def band(self, low: int, high: int) -> dict[str, Node]:
        """Every row whose generation is in [low, high] (one query)."""
        ...

    def graph(self) -> dict[str, Node]:
        """Every row (one query): the fallback."""
        ...

    def requires(self, packs: Collection[str]) -> dict[str, tuple[str, ...]]:
        """Each of `packs` → its prerequisites (a query per batch)."""
        ...


class UnknownCommit(LookupError):
    """A want the repository does not hold."""

    def __init__(self, oid: str) -> None:
        super().__init__(oid)
        self.oid = oid


class _Fallback(Exception):
    """A row of unknown generation (or a dangling parent): only the full walk is sure."""


@dataclass
class Negotiated:
    chosen: list[str]               # the packs the client needs, sorted
    walked: int = 0                 # commit rows read
    fallback: bool = False          # the full graph was read instead
    provider: dict[str, str] = field(default_factory=dict)  # what the walk read: commit → pack
    graph: dict[str, Node] | None = None  # the full graph, when it was read


def generations(parents: Mapping[str, Sequence[str]],
                known: Callable[[str], int | None]) -> dict[str, int | None]:
    """The generation of every commit of `parents` (commit → its parents), parents first:
    a parent outside `parents` is looked up with `known` (None: unknown, and so is every
    descendant's, and every commit of a cycle a damaged index claims)."""
    out: dict[str, int | None] = {}
    for commit in parents_first(list(parents), parents.__getitem__):
        best = 0
        for p in parents[commit]:
            g = out.get(p) if p in parents else known(p)
            if g is None:
                best = -1
                break
            best = max(best, g)
        out[commit] = None if best < 0 else best + 1
    return out


def full_walk(wants: Sequence[str], haves: Sequence[str],
              graph: Mapping[str, Node],
              requires: Callable[[str], Iterable[str]]) -> list[str]:
    """The reference: the packs for `wants` computed over the whole graph, as ever."""
    for want in wants:
        if want not in graph:
            raise UnknownCommit(want)
    provider = {c: n.pack for c, n in graph.items()}
    return choose_packs(wants, haves, provider, lambda c: graph[c].parents, requires)


class _Walk:
    def __init__(self, source: CommitSource, exact_queries: int, first_band: int) -> None:
        self.source = source
        self.exact_queries = exact_queries
        self.rows: dict[str, Node] = {}        # read (by id or in a band)
        self.color: dict[str, int] = {}        # reached, with the colours reaching it
        self.heap: list[tuple[int, str]] = []  # reached and read, not yet taken
        self.unread: set[str] = set()          # reached, row not read yet
        self.done: set[str] = set()
        self.lacked: set[str] = set()          # taken W only: the client lacks it
        self.w_only = 0                        # reached, not taken, W only
        self.queries = 0
        self.read = 0
        self.band_width = first_band
        self.band_low: int | None = None       # rows of generation >= this are all read

    # -- rows -------------------------------------------------------------------------------

    def fetch(self, oids: Collection[str]) -> dict[str, Node]:
        wanted = [o for o in oids if o not in self.rows]
        if wanted:
            found = self.source.nodes(wanted)
            self.queries += 1 + (len(wanted) - 1) // 500
            self.read += len(found)
            self.rows.update(found)
        return {o: self.rows[o] for o in oids if o in self.rows}

    def _read_frontier(self, ceiling: int) -> None:
        """Read the rows of every reached-unread commit; all lie at or below `ceiling`."""
        missing = [o for o in self.unread if o not in self.rows]
        if missing and self.queries >= self.exact_queries and ceiling > 0:
            high = ceiling if self.band_low is None else min(ceiling, self.band_low - 1)
            low = max(1, high - self.band_width + 1)
            if high >= 1:
                found = self.source.band(low, high)
                self.queries += 1
                self.read += len(found)
                for oid, banded in found.items():
                    self.rows.setdefault(oid, banded)
                self.band_low = low
                self.band_width *= 2
        self.fetch([o for o in self.unread if o not in self.rows])
        for oid in self.unread:
            node = self.rows.get(oid)
            if node is None or node.generation is None:
                raise _Fallback
            heapq.heappush(self.heap, (-node.generation, oid))
        self.unread.clear()

    # -- the walk ---------------------------------------------------------------------------

    def reach(self, oid: str, color: int) -> None:
        before = self.color.get(oid, 0)
        after = before | color
        if after == before:
            return
        self.color[oid] = after
        if before == 0:
            if oid in self.rows:
                node = self.rows[oid]
                if node.generation is None:
                    raise _Fallback
                heapq.heappush(self.heap, (-node.generation, oid))
            else:
                self.unread.add(oid)
        if before == WANT:
            self.w_only -= 1
        if after == WANT:
            self.w_only += 1

    def level(self) -> None:
        """Take every commit of the highest generation queued; queue their parents."""
        top = self.heap[0][0]
        while self.heap and self.heap[0][0] == top:
            _, oid = heapq.heappop(self.heap)
            if oid in self.done:
                continue
            self.done.add(oid)
            color = self.color[oid]
            if color == WANT:
                self.w_only -= 1
                self.lacked.add(oid)
            else:
                color = HAVE
            for parent in self.rows[oid].parents:
                self.reach(parent, color)
        if self.unread:
            self._read_frontier(-top - 1)

    def run(self) -> None:
        while self.w_only > 0 and self.heap:
            self.level()

    def holds(self, oid: str) -> bool:
        """Whether `oid` (whose row has been read) is an ancestor of a have the hub knows."""
        # Reached already: H means an ancestor of a have; W only (taken, as the walk left
        # no W-only commit queued) means the client lacks it.
        if oid in self.color:
            return self.color[oid] != WANT
        node = self.rows[oid]
        if node.generation is None:
            raise _Fallback
        # Only H commits are queued now: take them down to `oid`'s generation.
        while self.heap and -self.heap[0][0] >= node.generation:
            self.level()
        return oid in self.done and self.color[oid] != WANT


def negotiate(wants: Sequence[str], haves: Sequence[str], source: CommitSource, *,
              exact_queries: int = EXACT_QUERIES, first_band: int = FIRST_BAND) -> Negotiated:
    """The packs a client holding `haves` needs for `wants` (`full_walk`'s answer), with
    how many commit rows it read. UnknownCommit for a want the repository lacks."""
    walk = _Walk(source, exact_queries, first_band)
    try:
        return _negotiate(walk, wants, haves)
    except _Fallback:
        graph = source.graph()
        chosen = full_walk(wants, haves, graph, _requires_of(source))
        return Negotiated(chosen, walk.read + len(graph), True, graph=graph)


def _requires_of(source: CommitSource) -> Callable[[str], tuple[str, ...]]:
    cache: dict[str, tuple[str, ...]] = {}

    def requires(pack: str) -> tuple[str, ...]:
        if pack not in cache:
            cache.update(source.requires([pack]))
        return cache[pack]
    return requires


def _negotiate(walk: _Walk, wants: Sequence[str], haves: Sequence[str]) -> Negotiated:
    tips = walk.fetch(list(dict.fromkeys([*wants, *haves])))
    for want in wants:
        if want not in tips:
            raise UnknownCommit(want)
    if not any(have in tips for have in haves):
        raise _Fallback  # a clone: it lacks the whole history of its wants, one query
    for have in haves:
        if have in tips:
            walk.reach(have, HAVE)
    for want in wants:
        walk.reach(want, WANT)
    walk.run()
    provider = {c: walk.rows[c].pack for c in walk.lacked}
    chosen = set(provider.values())
    pending = sorted(chosen)
    while pending:
        asked = walk.source.requires(pending)
        walk.queries += 1
        pending = []
        prerequisites = sorted({r for p in asked for r in asked[p]})
        found = walk.fetch(prerequisites)
        for r in prerequisites:
            if r not in found:
                raise _Fallback  # the full walk fails on it as it always did
            if found[r].pack in chosen or walk.holds(r):  # a chosen pack needs no walk
                continue
            chosen.add(found[r].pack)
            provider[r] = found[r].pack
            pending.append(found[r].pack)
    return Negotiated(sorted(chosen), walk.read, False, provider)


__all__ = ["CommitSource", "Negotiated", "Node", "UnknownCommit", "full_walk", "generations",
           "negotiate"]
