"""`log --graph`: git's commit order and git's drawing, so a Muse graph reads as git's does.

Order (`topological`): children before parents, as git's `--topo-order` under
`--graph`: a stack, not a clock, so once a commit is drawn the walk goes on
down its *last* parent whose children are all drawn. A merged branch is then
drawn whole straight after its merge, never interleaved with the mainline.

Drawing (`Graph`): lanes two characters apart. Each commit passes through the
rows git's graph has: expansion rows making room before an octopus merge, the
commit row (`*`), a row fanning out a merge's parents (`|\\`), rows collapsing
lanes leftwards (`|/`, `_`), then padding rows (`| |`) beside any further
lines of text. Rows are padded to the graph's width, trailing spaces
included, exactly as git prints them (tests compare with `git log --graph`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator


def topological(commits: list[str], parents: dict[str, list[str]],
                timestamp: Callable[[str], int]) -> list[str]:
    """Children before parents: the tips newest first, then depth first, last parent first."""
    children = dict.fromkeys(commits, 0)
    for oid in commits:
        for parent in parents[oid]:
            if parent in children:
                children[parent] += 1
    walk_position = {oid: n for n, oid in enumerate(commits)}
    tips = sorted((oid for oid in commits if children[oid] == 0),
                  key=lambda oid: (-timestamp(oid), walk_position[oid]))
    stack = tips[::-1]  # the newest tip on top
    order = []
    while stack:
        oid = stack.pop()
        for parent in parents[oid]:
            if parent in children:
                children[parent] -= 1
                if children[parent] == 0:
                    stack.append(parent)
        order.append(oid)
    return order


class State(enum.Enum):
    PADDING = enum.auto()
    PRE_COMMIT = enum.auto()
    COMMIT = enum.auto()
    POST_MERGE = enum.auto()
    COLLAPSING = enum.auto()


_MERGE_CHARS = "/|\\"


class Graph:
    """git's graph state machine: `update(oid)` for each commit in order, then `next_row()`
    for each row beside (and after) its text until `finished`."""

    def __init__(self, parents: dict[str, list[str]]) -> None:
        self.parents = parents
        self.commit = ""
        self.num_parents = 0
        self.state = State.PADDING
        self.prev_state = State.PADDING
        self.commit_index = 0
        self.prev_commit_index = 0
        self.merge_layout = 0  # 0: the first parent lies left of the merge; 1: below it
        self.edges_added = 0  # lanes a merge adds to its right
        self.prev_edges_added = 0
        self.expansion_row = 0
        self.width = 0
        self.columns: list[str] = []  # lanes before this commit
        self.new_columns: list[str] = []  # lanes after it
        # mapping[i]: the lane the character at screen column i is heading for (-1: none).
        # Two buffers, swapped as rows are drawn: a collapsing row reads the previous one.
        self.mapping: list[int] = []
        self.old_mapping: list[int] = []
        self.mapping_size = 0

    @property
    def finished(self) -> bool:
        return self.state is State.PADDING

    def _set_state(self, state: State) -> None:
        self.prev_state, self.state = self.state, state

    # -- lanes ----------------------------------------------------------------------------

    def update(self, oid: str) -> None:
        """Make `oid` the commit being drawn: compute the lanes after it."""
        self.commit = oid
        self.num_parents = len(self.parents[oid])
        self.prev_commit_index = self.commit_index
        self._update_columns()
        self.expansion_row = 0
        self.state = State.PRE_COMMIT if self._needs_pre_commit_row() else State.COMMIT

    def _update_columns(self) -> None:
        self.columns, self.new_columns = self.new_columns, []
        size = 2 * (len(self.columns) + self.num_parents)
        for buffer in (self.mapping, self.old_mapping):
            buffer.extend([-1] * (size + 2 - len(buffer)))
        self.mapping_size = size
        self.mapping[:size] = [-1] * size
        self.width = 0
        self.prev_edges_added, self.edges_added = self.edges_added, 0
        seen_this = False
        for i in range(len(self.columns) + 1):
            if i == len(self.columns):
                if seen_this:
                    break
                lane = self.commit  # a commit no drawn child leads to: a new lane
            else:
                lane = self.columns[i]
            if lane == self.commit:
                seen_this = True
                self.commit_index = i
                self.merge_layout = -1
                for parent in self.parents[self.commit]:
                    self._insert(parent, i)
                if self.num_parents == 0:
                    self.width += 2  # the commit itself always takes its two columns
            else:
                self._insert(lane, -1)
        while self.mapping_size > 1 and self.mapping[self.mapping_size - 1] < 0:
            self.mapping_size -= 1

    def _insert(self, oid: str, commit_lane: int) -> None:
        """Route a lane (a parent of the commit when `commit_lane` > -1) into `new_columns`."""
        if oid in self.new_columns:
            i = self.new_columns.index(oid)
        else:
            i = len(self.new_columns)
            self.new_columns.append(oid)
        if self.num_parents > 1 and commit_lane > -1 and self.merge_layout == -1:
            # A merge's first parent picks the layout: left of the merge, or below it.
            distance = commit_lane - i
            shift = 2 * distance - 3 if distance > 1 else 1
            self.merge_layout = 0 if distance > 0 else 1
            self.edges_added = self.num_parents + self.merge_layout - 2
            at = self.width + (self.merge_layout - 1) * shift
            self.width += 2 * self.merge_layout
        elif self.edges_added > 0 and self.width >= 2 and i == self.mapping[self.width - 2]:
            # A lane the merge added joins the one just left of it at once.
            at = self.width - 2
            self.edges_added = -1
        else:
            at = self.width
            self.width += 2
        self.mapping[at] = i

    def _mapping_correct(self) -> bool:
        """Every lane is where it is heading (or one right of it: a `/` gets it there)."""
        return all(target < 0 or target == i // 2
                   for i, target in enumerate(self.mapping[:self.mapping_size]))

    def _dashed_parents(self) -> int:
        return self.num_parents + self.merge_layout - 3

    def _needs_pre_commit_row(self) -> bool:
        return (self.num_parents >= 3 and self.commit_index < len(self.columns) - 1
                and self.expansion_row < 2 * self._dashed_parents())

    def _lanes_with_commit(self) -> Iterator[tuple[int, str]]:
        """Each lane before the commit, and the commit's own where no child led to it."""
        yield from enumerate(self.columns)
        if self.commit not in self.columns:
            yield len(self.columns), self.commit

    # -- rows -----------------------------------------------------------------------------

    def next_row(self) -> str:
        """The graph's next row, padded to its width."""
        return _ROWS[self.state](self).ljust(self.width)

    def separator_row(self) -> str:
        """The row beside the blank line that parts two commits' text (git's padding)."""
        if self.state is not State.COMMIT:
            return self.next_row()
        row = "".join("|" + (" " * (2 * self.num_parents - 4)
                             if lane == self.commit and self.num_parents > 2 else " ")
                      for lane in self.columns)
        self.prev_state = State.PADDING
        return row.ljust(self.width)

    def _padding_row(self) -> str:
        return "| " * len(self.new_columns)

    def _pre_commit_row(self) -> str:
        row = []
        seen_this = False
        for i, lane in enumerate(self.columns):
            if lane == self.commit:
                seen_this = True
                row.append("|" + " " * self.expansion_row)
            elif seen_this and self.expansion_row == 0:
                after_merge = (self.prev_state is State.POST_MERGE
                               and self.prev_commit_index < i)
                row.append("\\" if after_merge else "|")
            elif seen_this:
                row.append("\\")
            else:
                row.append("|")
            row.append(" ")
        self.expansion_row += 1
        if not self._needs_pre_commit_row():
            self._set_state(State.COMMIT)
        return "".join(row)

    def _octopus_dashes(self) -> str:
        dashed = self._dashed_parents()
        return "".join("-" + ("." if i == dashed - 1 else "-") for i in range(dashed))

    def _commit_row(self) -> str:
        row = []
        seen_this = False
        for i, lane in self._lanes_with_commit():
            if lane == self.commit:
                seen_this = True
                row.append("*")
                if self.num_parents > 2:
                    row.append(self._octopus_dashes())
            elif seen_this and self.edges_added > 1:
                row.append("\\")
            elif seen_this and self.edges_added == 1:
                after_merge = (self.prev_state is State.POST_MERGE and self.prev_edges_added > 0
                               and self.prev_commit_index < i)
                row.append("\\" if after_merge else "|")
            elif (self.prev_state is State.COLLAPSING and self.old_mapping[2 * i + 1] == i
                  and self.mapping[2 * i] < i):
                row.append("/")
            else:
                row.append("|")
            row.append(" ")
        if self.num_parents > 1:
            self._set_state(State.POST_MERGE)
        elif self._mapping_correct():
            self._set_state(State.PADDING)
        else:
            self._set_state(State.COLLAPSING)
        return "".join(row)

    def _post_merge_row(self) -> str:
        row = []
        seen_this = False
        passed_first_parent = False
        first_parent = self.parents[self.commit][0]
        for i, lane in self._lanes_with_commit():
            if lane == self.commit:
                seen_this = True
                kind = self.merge_layout
                for j in range(self.num_parents):
                    row.append(_MERGE_CHARS[kind])
                    if kind == 2:
                        if self.edges_added > 0 or j < self.num_parents - 1:
                            row.append(" ")
                    else:
                        kind += 1
                if self.edges_added == 0:
                    row.append(" ")
            elif seen_this:
                row.append("\\ " if self.edges_added > 0 else "| ")
            else:
                row.append("|")
                if self.merge_layout != 0 or i != self.commit_index - 1:
                    row.append("_" if passed_first_parent else " ")
            if lane == first_parent:
                passed_first_parent = True
        self._set_state(State.PADDING if self._mapping_correct() else State.COLLAPSING)
        return "".join(row)

    def _collapsing_row(self) -> str:
        self.mapping, self.old_mapping = self.old_mapping, self.mapping
        size = self.mapping_size
        mapping, old = self.mapping, self.old_mapping
        mapping[:size] = [-1] * size
        horizontal_edge = horizontal_target = -1
        for i in range(size):
            target = old[i]
            if target < 0:
                continue
            # Lanes only ever move left, so where two cross only one is moving.
            if target * 2 == i:
                mapping[i] = target
            elif mapping[i - 1] < 0:
                mapping[i - 1] = target  # nothing to the left: one step left
                if horizontal_edge == -1:
                    horizontal_edge, horizontal_target = i, target
                    for j in range(target * 2 + 3, i - 2, 2):
                        mapping[j] = target
            elif mapping[i - 1] == target:
                pass  # the lane to the left goes to the same parent: they merge
            else:
                mapping[i - 2] = target  # cross over the lane to the left
                if horizontal_edge == -1:
                    horizontal_edge, horizontal_target = i - 1, target
                    for j in range(target * 2 + 3, i - 2, 2):
                        mapping[j] = target
        old[:size] = mapping[:size]
        if mapping[size - 1] < 0:
            self.mapping_size = size - 1
        row = []
        used_horizontal = False
        for i in range(self.mapping_size):
            target = mapping[i]
            if target < 0:
                row.append(" ")
            elif target * 2 == i:
                row.append("|")
            elif target == horizontal_target and i != horizontal_edge - 1:
                if i != target * 2 + 3:
                    mapping[i] = -1  # only the first segment goes on to the next row
                used_horizontal = True
                row.append("_")
            else:
                if used_horizontal and i < horizontal_edge:
                    mapping[i] = -1
                row.append("/")
        if self._mapping_correct():
            self._set_state(State.PADDING)
        return "".join(row)


# Which row each state draws (looked up once per row).
_ROWS: dict[State, Callable[[Graph], str]] = {
    State.PADDING: Graph._padding_row, State.PRE_COMMIT: Graph._pre_commit_row,
    State.COMMIT: Graph._commit_row, State.POST_MERGE: Graph._post_merge_row,
    State.COLLAPSING: Graph._collapsing_row,
}


def draw(order: list[str], parents: dict[str, list[str]],
         parts_of: Callable[[str], tuple[list[str], list[str]]], *,
         separated: bool = False) -> Iterator[str]:
    """Every output line, as git lays a commit out beside its rows: the commit's own text
    (the first line beside its `*`, the rest beside the rows that follow), then the rows
    left to draw, then what it changed (`parts_of`: text lines, change lines).

    Text ending in a newline (its last line empty) ends in a padding row. `separated`:
    that blank line parts commits instead (the full layout); git draws it just before the
    next commit, at that commit's lanes, and none after the last.
    """
    graph = Graph(parents)
    for n, oid in enumerate(order):
        graph.update(oid)
        text, after = parts_of(oid)
        text = text or [""]
        ends_in_newline = len(text) > 1 and text[-1] == ""
        if ends_in_newline:
            text = text[:-1]
        if separated and n:
            yield graph.separator_row()
        while graph.state is not State.COMMIT:
            yield graph.next_row()  # the rows making room for an octopus merge
        yield graph.next_row() + text[0]
        for line in text[1:]:
            yield graph.next_row() + line
        while not graph.finished:
            yield graph.next_row()
        if ends_in_newline and not separated:
            yield graph.separator_row()
        for line in after:
            yield graph.separator_row() + line
