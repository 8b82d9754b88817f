"""What each commit `log --stat/--name-status/-p` shows it changed: against its first parent."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .changes import compare
from .diff import FileDiff, diff_changes, render_diffs
from .errors import UsageError
from .logwalk import compile_pattern
from .objects import Snapshot, SnapshotEntry
from .pathspec import Pathspec, restrict_to
from .renames import RenameSettings
from .repo import Repository


@dataclass(frozen=True)
class DiffView:
    """Which of git's diff outputs `log` was asked for (git's precedence: names win)."""

    name_only: bool = False
    name_status: bool = False
    stat: bool = False
    patch: bool = False

    @property
    def asked(self) -> bool:
        return self.name_only or self.name_status or self.stat or self.patch

    @property
    def names(self) -> bool:
        return self.name_only or self.name_status

    def lines(self, diffs: list[FileDiff]) -> list[str]:
        return render_diffs(diffs, name_only=self.name_only, name_status=self.name_status,
                            stat=self.stat, patch=self.patch)

    def records(self, diffs: list[FileDiff]) -> list[dict[str, Any]]:
        """`log --json`'s `changes`: `show --json`'s objects; `patch` only with -p, and
        only the path and status with --name-only/--name-status (no content is read but
        to pair renames; a rename's `old_path` too)."""
        if self.names:  # a rename adds its `old_path`
            return [{"path": fd.path, "status": fd.change.status,
                     **({"old_path": fd.old_path} if fd.old_path is not None else {})}
                    for fd in diffs]
        return [{**fd.as_dict(), **({} if self.patch else {"patch": None})} for fd in diffs]


class CommitChanges:
    """Each commit's changes under `specs` (all paths without), one commit at a time.

    A root commit is compared with an empty tree; a merge shows none, as git's log
    without `-m`, unless `first_parent` (git's --first-parent diffs a merge against its
    first parent). Only the names are compared for --name-only/--name-status; otherwise
    `muse.diff` reads each side at most once and never a file over its text cap, so a
    large stem is summarised by size without being loaded. With `pick` (-S, -G), only
    the files it picks are kept: their contents are always compared.

    With `renames` enabled (`diff.renames`, off when None), each commit's deleted and added files
    under `specs` are paired into renames first (`muse.renames.pair_renames`: an exact
    rename reads nothing, even for the names); `skipped` keeps the largest candidate
    count of a commit whose similarity step was skipped, for the caller to say once.
    """

    def __init__(self, repo: Repository, specs: list[Pathspec], view: DiffView,
                 first_parent: bool = False,
                 pick: Callable[[FileDiff], bool] | None = None,
                 renames: RenameSettings | None = None) -> None:
        self.repo = repo
        self.specs = specs
        self.view = view
        self.first_parent = first_parent
        self.pick = pick
        self.renames = renames
        self.skipped = 0
        self._snapshots: dict[str, Snapshot] = {}
        self._last: tuple[str, list[FileDiff]] | None = None

    def of(self, oid: str) -> list[FileDiff]:
        # The pickaxe asks first, then the printer: the one commit is worked out once.
        if self._last is None or self._last[0] != oid:
            self._last = (oid, self._worked_out(oid))
        return self._last[1]

    def _worked_out(self, oid: str) -> list[FileDiff]:
        commit = self.repo.graph.commit(oid)
        if len(commit.parents) > 1 and not self.first_parent:
            return []
        parent = commit.parents[0] if commit.parents else None
        old = self._snapshot(self.repo.graph.commit(parent).snapshot) if parent else None
        new = self._snapshot(commit.snapshot)
        old, new = restrict_to(old, self.specs), restrict_to(new, self.specs)
        changes = compare(old, new)
        if self.renames is not None:
            changes, skipped = self.renames.pair(changes, self._read, self._read)
            self.skipped = max(self.skipped, skipped)
        if self.pick is not None:
            return [fd for fd in diff_changes(changes, self._read, self._read)
                    if self.pick(fd)]
        if self.view.names:
            return [FileDiff(change, binary=False) for change in changes]
        return diff_changes(changes, self._read, self._read)

    def _snapshot(self, snapshot_id: str) -> Snapshot:
        # Newest first, a commit's parent tree is the next commit's own: the last two
        # are kept, never more, so memory stays flat whatever the history's length.
        found = self._snapshots.get(snapshot_id)
        if found is None:
            found = self.repo.store.read_snapshot(snapshot_id)
            if len(self._snapshots) >= 2:
                self._snapshots.pop(next(iter(self._snapshots)))
            self._snapshots[snapshot_id] = found
        return found

    def _read(self, entry: SnapshotEntry) -> bytes:
        return self.repo.store.read(entry.oid)


def pickaxe(text: str | None, pattern: str | None, ignore_case: bool = False
            ) -> Callable[[FileDiff], bool] | None:
    """`-S TEXT`: a file whose count of TEXT changed; `-G REGEX`: a file with an added or
    removed line REGEX matches (one or the other, as git). Text files only: a binary stem
    has no lines."""
    if text is None and pattern is None:
        return None
    if not (text or pattern):
        raise UsageError(f"{'-S' if text is not None else '-G'} needs something to look for")
    if pattern is not None:
        found = compile_pattern(pattern, "-G", re.IGNORECASE if ignore_case else 0)
        assert found is not None
        return lambda fd: any(found.search(line[1:]) for line in _changed_lines(fd))
    wanted = str(text).lower() if ignore_case else str(text)

    def count_changes(fd: FileDiff) -> bool:
        # Lines both sides share hold as many on either side: the changed ones decide.
        counts = {"+": 0, "-": 0}
        for line in _changed_lines(fd):
            counts[line[0]] += (line.lower() if ignore_case else line).count(wanted, 1)
        return counts["+"] != counts["-"]
    return count_changes


def _changed_lines(fd: FileDiff) -> list[str]:
    """The added (`+`) and removed (`-`) lines of a file's patch, past its two headers."""
    return [line for line in fd.patch[2:] if line[:1] in ("+", "-")]
