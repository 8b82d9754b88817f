"""`log --graph`: commits in topological order, drawn as lanes of `*`, `|`, `/` and `\\`.

Lanes sit two columns apart (git's layout). A commit row puts `*` in its
lane; a connector row after it shows the lane splitting to a merge's parents,
or lanes closing and shifting left. Several lanes waiting for one commit join
before its row.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator


def topological(commits: list[str], parents: dict[str, list[str]],
                timestamp: Callable[[str], int]) -> list[str]:
    """Children before parents; among the ready ones, the newest first."""
    children = dict.fromkeys(commits, 0)
    for oid in commits:
        for parent in parents[oid]:
            children[parent] += 1
    ready = [(-timestamp(oid), oid) for oid in commits if children[oid] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, oid = heapq.heappop(ready)
        order.append(oid)
        for parent in parents[oid]:
            children[parent] -= 1
            if children[parent] == 0:
                heapq.heappush(ready, (-timestamp(parent), parent))
    return order


def _connector(edges: list[tuple[int, int]], width: int) -> str:
    """One row drawing each lane move (from, to)."""
    row = [" "] * (2 * width)
    for start, end in edges:
        if end == start:
            row[2 * start] = "|"
        elif end < start:
            row[2 * start - 1] = "/"
            for i in range(2 * end + 1, 2 * start - 1):
                row[i] = "_"
        else:
            row[2 * start + 1] = "\\"
            for i in range(2 * start + 2, 2 * end):
                row[i] = "_"
    return "".join(row).rstrip()


def _lanes_row(lanes: int, mark: int | None = None, gap: int | None = None) -> str:
    cells = ["*" if i == mark else " " if i == gap else "|" for i in range(lanes)]
    return " ".join(cells)  # not stripped: text beside it must line up


class Graph:
    """Lays out commits one by one; each call yields the rows that go with one commit."""

    def __init__(self, parents: dict[str, list[str]]) -> None:
        self.parents = parents
        self.lanes: list[str] = []

    def rows(self, oid: str) -> tuple[list[str], str, str, list[str]]:
        """(rows before, the commit's row prefix, the prefix for its other lines, rows after)."""
        before: list[str] = []
        if oid not in self.lanes:
            self.lanes.append(oid)
        if self.lanes.count(oid) > 1:
            joined = list(dict.fromkeys(self.lanes))
            before.append(_connector([(i, joined.index(x)) for i, x in enumerate(self.lanes)],
                                     len(self.lanes)))
            self.lanes = joined
        col = self.lanes.index(oid)
        parents = self.parents[oid]
        node = _lanes_row(len(self.lanes), mark=col)
        body = _lanes_row(max(len(self.lanes), 1), gap=None if parents else col)
        fresh = [p for p in parents if p not in self.lanes]
        new = self.lanes[:col] + fresh + self.lanes[col + 1:]
        edges = [(i, new.index(x)) for i, x in enumerate(self.lanes) if i != col]
        edges += [(col, new.index(p)) for p in parents]
        after = []
        if len(parents) > 1 or any(a != b for a, b in edges):
            after.append(_connector(edges, max(len(self.lanes), len(new))))
        self.lanes = new
        return before, node, body, after


def draw(order: list[str], parents: dict[str, list[str]],
         lines_of: Callable[[str], list[str]]) -> Iterator[str]:
    """Every output line: each commit's lines (the first beside its `*`) within the lanes."""
    graph = Graph(parents)
    for oid in order:
        before, node, body, after = graph.rows(oid)
        yield from before
        lines = lines_of(oid) or [""]
        yield f"{node} {lines[0]}".rstrip()
        for line in lines[1:]:
            yield f"{body} {line}".rstrip() if line else body.rstrip()
        yield from after
