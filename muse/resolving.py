"""Settling the conflicts of a stopped merge, cherry-pick or revert, path by path.

`resolve(repo, paths, side)` puts one side's version at each conflicted path
("ours": HEAD's, "theirs": the other commit's; a side that deleted the file
deletes it), or with no side accepts the file as it now is; either way the
path's side files are deleted and its record is marked resolved, so `muse
commit` (or `--continue`) no longer waits for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import RepositoryError, UsageError
from .merge_state import (
    MERGE_CONFLICTS,
    RENAME_RENAME,
    ConflictRecord,
    mark_resolved,
    merge_in_progress,
    pending_merge,
    pending_pick,
    pick_in_progress,
    read_records,
)
from .objects import Snapshot, SnapshotEntry
from .paths import is_safe_path
from .repo import Repository
from .textmerge import OURS, THEIRS


@dataclass(frozen=True)
class Resolved:
    """One settled path: which side it took ("ours", "theirs" or "as-is"), files removed."""

    path: str
    took: str
    removed: list[str]


def resolve(repo: Repository, paths: list[str], side: str | None) -> list[Resolved]:
    """Settle the conflicts at `paths` (every conflict when empty and a side is given)."""
    if not (merge_in_progress(repo) or pick_in_progress(repo)):
        raise RepositoryError("no merge, cherry-pick or revert in progress",
                              hint="there are no conflicts to resolve")
    if not paths and side is None:
        raise UsageError("resolve what?",
                         hint="name the paths (`muse resolve PATH…`), or take one side for "
                         "every conflict with --ours or --theirs")
    listed_records = read_records(repo)
    records = {r.path: r for r in listed_records}
    known = {name: r for r in listed_records for name in r.names()}  # a rename's 2nd name too
    unknown = [p for p in paths if p not in known]
    if unknown:
        listed = ", ".join(sorted(records)) or "none"
        raise UsageError(f"not a conflicted path: {', '.join(unknown)}",
                         hint=f"the conflicts are: {listed}")
    picked = {known[p].path: known[p] for p in paths}
    chosen = list(picked.values()) or list(records.values())
    unsafe = [n for r in chosen for n in r.names() if not is_safe_path(n)]
    if unsafe:  # only a hand-edited record holds one: never write outside the tree
        raise RepositoryError(f"{MERGE_CONFLICTS} is damaged: unsafe path {unsafe[0]!r}",
                              hint="run `muse merge --abort` or `muse reset --hard`")
    sides = _side_trees(repo) if side is not None else {}
    done = []
    for record in chosen:
        dropped = _take(repo, record, side, sides[side]) if side is not None else []
        done.append(Resolved(record.path, side or "as-is",
                             dropped + _remove_side_files(repo, record)))
    repo.worktree.cache.save()
    mark_resolved(repo, {r.path for r in chosen})
    return done


def _side_trees(repo: Repository) -> dict[str, Snapshot]:
    """HEAD's tree and the other side's: MERGE_HEAD, or what a cherry-pick/revert applies."""
    other = pending_merge(repo)
    if other is None:
        pick = pending_pick(repo)
        other = pick.theirs if pick is not None else None
    theirs = repo.commit_snapshot(other) if other is not None else Snapshot(())
    return {OURS: repo.head_snapshot() or Snapshot(()), THEIRS: theirs}


def _take(repo: Repository, record: ConflictRecord, side: str, tree: Snapshot) -> list[str]:
    """Put `side`'s version at the path (for a rename-rename: at that side's name, the
    other name removed, and returned)."""
    oid = record.ours if side == OURS else record.theirs
    worktree = repo.worktree
    target = record.path
    renamed = record.renamed or {}
    side_path = renamed.get(side)
    dropped = []
    if record.kind == RENAME_RENAME and len(record.names()) == 2:
        ours_name, theirs_name = record.names()
        target, other = (ours_name, theirs_name) if side == OURS else (theirs_name, ours_name)
        if os.path.lexists(worktree.root / other):
            worktree.remove_entry(other)
            dropped.append(other)
    if oid is None:  # that side deleted the file
        if os.path.lexists(worktree.root / target):
            worktree.remove_entry(target)
        return dropped
    found = tree.as_dict().get(side_path if isinstance(side_path, str) else target)
    if found is None or found.oid != oid:  # a record edited by hand: trust its id only
        found = SnapshotEntry(target, oid, repo.store.size(oid))
    worktree.write_entry(found.at(target))
    return dropped


def _remove_side_files(repo: Repository, record: ConflictRecord) -> list[str]:
    removed = []
    for name in record.side_files:
        if is_safe_path(name) and os.path.lexists(repo.worktree.root / name):
            repo.worktree.safe.remove(name)
            removed.append(name)
    return removed
