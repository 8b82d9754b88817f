"""The history graph: ancestry, merge bases and reachability deltas over stored commits."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .objects import Commit
from .storage import CommitSource

# Covariant: a graph over a richer store (the local one, a hub's) is one over a CommitSource.
SourceT = TypeVar("SourceT", bound=CommitSource, covariant=True)


class CommitGraph(Generic[SourceT]):
    """Reads commits through a per-process cache; walks newest-first by timestamp.

    The commits come from any `CommitSource`: the local store, or a hub's table.
    """

    def __init__(self, source: SourceT) -> None:
        self.source = source
        self._cache: dict[str, Commit] = {}

    def commit(self, oid: str) -> Commit:
        found = self._cache.get(oid)
        if found is None:
            found = self.source.read_commit(oid)
            self._cache[oid] = found
        return found

    def walk(self, starts: Iterable[str], *, stop: set[str] | None = None,
             first_parent: bool = False) -> Iterator[str]:
        """Yield every commit reachable from `starts` once, newest first; do not enter `stop`;
        with `first_parent`, follow only each commit's first parent."""
        stop = stop or set()
        seen: set[str] = set()
        heap: list[tuple[int, int, str]] = []
        counter = 0
        for oid in starts:
            if oid not in seen and oid not in stop:
                seen.add(oid)
                heapq.heappush(heap, (-self.commit(oid).timestamp, counter, oid))
                counter += 1
        while heap:
            _, _, oid = heapq.heappop(heap)
            yield oid
            parents = self.commit(oid).parents
            for parent in parents[:1] if first_parent else parents:
                if parent not in seen and parent not in stop:
                    seen.add(parent)
                    counter += 1
                    heapq.heappush(heap, (-self.commit(parent).timestamp, counter, parent))

    def first_parent_chain(self, start: str) -> Iterator[str]:
        oid: str | None = start
        while oid is not None:
            yield oid
            parents = self.commit(oid).parents
            oid = parents[0] if parents else None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """True when `ancestor` is `descendant` or reachable from it; usually O(commits between).

        The delta walk never calls a commit new that the other side reaches, so an
        empty delta proves ancestry cheaply. With equal or skewed timestamps it may
        list too much, so "not empty" is settled by the exhaustive walk.
        """
        if ancestor == descendant or not reachability_delta(self, [ancestor], [descendant]).commits:
            return True
        return self._reaches(descendant, ancestor)

    def relation(self, a: str, b: str) -> str:
        """"same", "behind" (a is an ancestor of b), "ahead" (b of a) or "diverged".

        Both cheap delta walks run before any exhaustive one, so whichever way the
        answer falls it usually costs O(commits between), not O(history).
        """
        if a == b:
            return "same"
        if not reachability_delta(self, [a], [b]).commits:
            return "behind"
        if not reachability_delta(self, [b], [a]).commits:
            return "ahead"
        if self._reaches(b, a):
            return "behind"
        if self._reaches(a, b):
            return "ahead"
        return "diverged"

    def _reaches(self, start: str, target: str) -> bool:
        return any(oid == target for oid in self.walk([start]))

    def merge_bases(self, a: str, b: str) -> list[str]:
        """Best common ancestors of `a` and `b` (none of them an ancestor of another)."""
        ancestors_a = set(self.walk([a]))
        common = [oid for oid in self.walk([b]) if oid in ancestors_a]
        # A common ancestor reachable from another one's parents is not "best"; one walk
        # from every common commit's parents finds all of those at once.
        parents = [p for oid in common for p in self.commit(oid).parents]
        dominated = set(self.walk(parents))
        return [oid for oid in common if oid not in dominated]

    def merge_base(self, a: str, b: str) -> str | None:
        bases = self.merge_bases(a, b)
        return bases[0] if bases else None


@dataclass(frozen=True)
class Delta:
    """What a receiver holding `exclude` lacks to have `include`.

    `commits` are oldest first (parents before children). `boundary` are the
    excluded commits the walk touched; objects in their snapshots are assumed
    present on the receiver, so the object set may hold a few the receiver
    already has but never misses one it lacks.
    """

    commits: list[str]
    boundary: list[str]


def reachability_delta(graph: CommitGraph[Any], include: Iterable[str], exclude: Iterable[str],
                       ) -> Delta:
    """Commits reachable from `include` but not from `exclude`, in O(new commits).

    Walks both sides newest first together and stops once every commit left in
    the queue is known to be reachable from `exclude` (git's "everybody is
    uninteresting" rule) and is strictly older than every commit taken as new:
    an older commit cannot reach a newer one, but one made in the same second
    can. A commit found to be old after it was walked as new passes that on to
    every ancestor already walked. The result is exact whenever clocks never go
    backwards; with clock skew it may hold commits the receiver has, never less.
    """
    exclude = list(exclude)
    absent = graph.source.missing(exclude)
    return _DeltaWalk(graph).run(list(include), [o for o in exclude if o not in absent])


class _DeltaWalk:
    """The state of one reachability-delta walk (see `reachability_delta`)."""

    def __init__(self, graph: CommitGraph[Any]) -> None:
        self.graph = graph
        self.uninteresting: set[str] = set()
        self.seen: set[str] = set()
        self.processed: list[str] = []
        self.processed_set: set[str] = set()
        self.heap: list[tuple[int, int, str]] = []
        self.counter = 0
        self.oldest_new = 1 << 62

    def _settled(self) -> bool:
        """True when nothing left in the queue can still turn out to be new, or reach new."""
        newest_left = -self.heap[0][0]
        if newest_left >= self.oldest_new:
            return False
        return all(item[2] in self.uninteresting for item in self.heap)

    def run(self, include: list[str], exclude: list[str]) -> Delta:
        for oid in exclude:
            self.mark_uninteresting(oid)
        for oid in include:
            self.enqueue(oid)
        boundary: list[str] = []
        while self.heap and not self._settled():
            oid = heapq.heappop(self.heap)[2]
            self.processed.append(oid)
            self.processed_set.add(oid)
            bad = oid in self.uninteresting
            if bad:
                boundary.append(oid)
            else:
                self.oldest_new = min(self.oldest_new, self.graph.commit(oid).timestamp)
            for parent in self.graph.commit(oid).parents:
                if bad:
                    self.mark_uninteresting(parent)
                else:
                    self.enqueue(parent)
        boundary.extend(item[2] for item in self.heap)
        commits = [oid for oid in self.processed if oid not in self.uninteresting]
        return Delta(commits=topological_order(self.graph, commits),
                     boundary=sorted(set(boundary)))

    def enqueue(self, oid: str) -> None:
        if oid in self.seen:
            return
        self.seen.add(oid)
        self.counter += 1
        heapq.heappush(self.heap, (-self.graph.commit(oid).timestamp, self.counter, oid))

    def mark_uninteresting(self, start: str) -> None:
        """Mark `start` reachable from the excluded side, and every walked ancestor with it."""
        stack = [start]
        while stack:
            oid = stack.pop()
            if oid in self.uninteresting:
                continue
            self.uninteresting.add(oid)
            if oid in self.processed_set:
                # Already expanded as new history: its parents must learn they are old too.
                stack.extend(self.graph.commit(oid).parents)
            else:
                self.enqueue(oid)


def topological_order(graph: CommitGraph[Any], commits: Iterable[str]) -> list[str]:
    """`commits` ordered so every parent inside the set comes before its children."""
    wanted = set(commits)
    return parents_first(sorted(wanted), lambda oid: graph.commit(oid).parents)


def parents_first(commits: list[str], parents: Callable[[str], Iterable[str]]) -> list[str]:
    """`commits` (taken in the order given) ordered so every parent among them comes before
    its children; iterative, so a history of any depth fits the stack. Rows that claim a
    cycle (no hashed history can hold one: only a damaged index) still end the walk, each
    commit once, the cycle in some order."""
    wanted = set(commits)
    order: list[str] = []
    placed: set[str] = set()
    entered: set[str] = set()
    for root in commits:
        stack: list[tuple[str, bool]] = [(root, False)]
        while stack:
            oid, expanded = stack.pop()
            if oid in placed:
                continue
            if expanded:
                placed.add(oid)
                order.append(oid)
                continue
            if oid in entered:
                continue  # its own ancestor: a cycle, placed when its expansion ends
            entered.add(oid)
            stack.append((oid, True))
            stack.extend((p, False) for p in parents(oid) if p in wanted and p not in placed)
    return order
