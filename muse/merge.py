"""Merging another commit into HEAD: fast-forward, or a three-way merge.

The tree merges path by path (`three_way`); a path both sides changed is
then merged line by line if it is text (`content_merge`), else it stays a
file-level conflict with side files.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from .changes import compare, file_key
from .checkout import (
    check_discard,
    check_move,
    force_tree,
    list_paths,
    move_head_then_tree,
    move_tree,
    plan_checkout,
)
from .errors import ConflictError, NonFastForwardError, RepositoryError, UsageError
from .merge_state import (
    ConflictRecord,
    clear_state,
    merge_in_progress,
    pick_in_progress,
    require_no_merge,
    tracked_by_merge,
    write_state,
)
from .objects import Commit, Snapshot, SnapshotEntry
from .repo import Repository
from .store import ObjectBatch

FF_AUTO, FF_ONLY, FF_NEVER = "auto", "only", "never"


@dataclass(frozen=True)
class Conflict:
    """A path both sides changed differently; entries are None where a side has no file."""

    path: str
    kind: str
    base: SnapshotEntry | None
    ours: SnapshotEntry | None
    theirs: SnapshotEntry | None
    markers: bool = False  # merged line by line: the file at the path holds conflict markers


@dataclass(frozen=True)
class MergePlan:
    """The merged tree (a conflicted path holds ours, or theirs if ours deleted it, or the
    line-merged text with its conflict markers)."""

    merged: dict[str, SnapshotEntry]
    conflicts: list[Conflict]


def _conflict_kind(base: SnapshotEntry | None, ours: SnapshotEntry | None,
                   theirs: SnapshotEntry | None) -> str:
    if base is None:
        return "both-added"
    if ours is None or theirs is None:
        return "modify-delete"
    return "both-modified"


def three_way(base: Snapshot | None, ours: Snapshot, theirs: Snapshot) -> MergePlan:
    """Merge per path: a side that did not change yields to the side that did."""
    b = base.as_dict() if base is not None else {}
    o, t = ours.as_dict(), theirs.as_dict()
    merged: dict[str, SnapshotEntry] = {}
    conflicts: list[Conflict] = []
    for path in sorted(b.keys() | o.keys() | t.keys()):
        eb, eo, et = b.get(path), o.get(path), t.get(path)
        if file_key(eo) == file_key(et) or file_key(eb) == file_key(et):
            chosen = eo
        elif file_key(eb) == file_key(eo):
            chosen = et
        else:
            conflicts.append(Conflict(path, _conflict_kind(eb, eo, et), eb, eo, et))
            chosen = eo or et
        if chosen is not None:
            merged[path] = chosen
    return MergePlan(merged, conflicts)


def side_file_name(path: str, side: str, taken: Callable[[str], bool]) -> str:
    """`dir/drums.mid` → `dir/drums~theirs.mid`: the extension stays last so apps open it."""
    folder, _, name = path.rpartition("/")
    stem, ext = os.path.splitext(name)
    number = 1
    while True:
        label = side if number == 1 else f"{side}{number}"
        candidate = f"{folder}/{stem}~{label}{ext}" if folder else f"{stem}~{label}{ext}"
        if not taken(candidate):
            return candidate
        number += 1


def conflict_layout(plan: MergePlan, on_disk: Callable[[str], bool],
                    ) -> tuple[Snapshot, list[ConflictRecord]]:
    """The tree to write for a conflicted merge (result plus side files) and its records."""
    layout = dict(plan.merged)
    records = []
    for c in plan.conflicts:
        sides = []
        if c.ours is not None and c.theirs is not None:
            sides.append(("theirs", c.theirs))  # when ours is gone, theirs is at the path
        if c.base is not None:
            sides.append(("base", c.base))
        if c.markers:
            sides = []  # the markers in the file show every side: no side files
        names = []
        for side, entry in sides:
            name = side_file_name(c.path, side, lambda p: p in layout or on_disk(p))
            layout[name] = SnapshotEntry(name, entry.oid, entry.size, entry.executable)
            names.append(name)
        records.append(ConflictRecord(c.path, c.kind, _oid(c.base), _oid(c.ours),
                                      _oid(c.theirs), names, markers=c.markers))
    return Snapshot.from_entries(layout.values()), records


def _oid(entry: SnapshotEntry | None) -> str | None:
    return entry.oid if entry is not None else None


@dataclass(frozen=True)
class MergeOutcome:
    """What `merge` did: "up-to-date", "fast-forward", "merged" or "conflicts"."""

    kind: str
    head: str | None
    commit: Commit | None = None
    conflicts: list[ConflictRecord] = field(default_factory=list)


def merge(repo: Repository, other: str, *, label: str, ff: str = FF_AUTO,
          message: str | None = None, sign: bool = True,
          favour: str | None = None) -> MergeOutcome:
    """Merge commit `other` (named `label` in messages) into HEAD.

    `favour` ("ours" or "theirs") settles every conflict for that side.
    """
    require_no_merge(repo, "start a merge")
    if message is not None and not message.strip():
        raise UsageError("empty merge message", hint="pass one with -m MESSAGE, or omit -m")
    head = repo.head()
    if head is None:
        return _merge_into_unborn(repo, other, label, ff)
    relation = repo.graph.relation(head, other)
    if relation in ("same", "ahead"):
        return MergeOutcome("up-to-date", head)
    can_ff = relation == "behind"
    if ff == FF_ONLY and not can_ff:
        raise NonFastForwardError(f"cannot fast-forward to {label}: the histories have diverged",
                                  hint="drop --ff-only to make a merge commit")
    head_snap = repo.head_snapshot()
    work = repo.worktree.snapshot()
    refuse_dirty(head_snap, work, "merge")
    if can_ff and ff != FF_NEVER:
        target = repo.commit_snapshot(other)
        changed = _refuse_obstacles(repo, head_snap, target, work)
        move_head_then_tree(repo, head, other, f"merge {label}: fast-forward", head_snap,
                            target, changed)
        return MergeOutcome("fast-forward", other)
    base = repo.graph.merge_base(head, other)
    text = message or f"Merge {label} into {repo.current_branch() or 'HEAD'}"
    with repo.store.batch() as batch:
        plan = settle(repo, repo.commit_snapshot(base) if base else None, head_snap,
                      repo.commit_snapshot(other), batch, favour)
        if plan.conflicts:
            records = stop_for_conflicts(repo, plan, head_snap, work, batch,
                                         lambda found: write_state(repo, other, found))
            return MergeOutcome("conflicts", head, None, records)
        return _commit_merge(repo, head, other, plan, head_snap, work, text, sign, label,
                             batch)


def settle(repo: Repository, base: Snapshot | None, head_snap: Snapshot | None,
           theirs: Snapshot, batch: ObjectBatch, favour: str | None) -> MergePlan:
    """The three-way merge of trees then of text contents; merged bytes go into `batch`."""
    from .content_merge import conflict_style, merge_contents

    plan = three_way(base, head_snap or Snapshot(()), theirs)
    _refuse_file_folder_clash(plan)
    if not plan.conflicts:
        return plan
    return merge_contents(repo, plan, batch, style=conflict_style(repo), favour=favour)


def refuse_dirty(head_snap: Snapshot | None, work: Snapshot, doing: str) -> None:
    changes = [f"{c.path} ({c.status})" for c in compare(head_snap, work)]
    if changes:
        raise ConflictError(
            f"cannot {doing}: the working tree has uncommitted changes: {list_paths(changes)}",
            hint="commit them first (`muse commit -m MESSAGE`), "
            "or discard them with `muse reset --hard`",
        )


def _refuse_file_folder_clash(plan: MergePlan) -> None:
    """One side's file `x` and the other's `x/y` cannot both be in a tree: stop before writing."""
    paths = set(plan.merged)
    for path in sorted(paths):
        parts = path.split("/")
        for i in range(1, len(parts)):
            folder = "/".join(parts[:i])
            if folder in paths:
                raise ConflictError(
                    f"cannot merge: {folder!r} is a file on one side and a folder "
                    f"(holding {path!r}) on the other",
                    hint="rename one of them on one branch, commit, and merge again",
                )


def _refuse_obstacles(repo: Repository, head_snap: Snapshot | None, target: Snapshot,
                      work: Snapshot) -> list[str]:
    """Refuse if moving the tree to `target` would destroy files; else the paths it moves."""
    assert repo.root is not None
    return check_move(repo.root, head_snap, target, work, "merge", what="files",
                      hint="move them out of the way (or delete them) and retry")


def _merge_into_unborn(repo: Repository, other: str, label: str, ff: str) -> MergeOutcome:
    """A branch with no commits simply starts at `other` (local files are carried)."""
    if ff == FF_NEVER:
        raise RepositoryError(
            f"cannot make a merge commit: branch {repo.current_branch()!r} has no commits yet",
            hint=f"drop --no-ff to start the branch at {label}",
        )
    plan = plan_checkout(repo, other, force=False, doing=f"merge {label}")
    plan.run_after_head(None, f"merge {label}: initial")
    return MergeOutcome("fast-forward", other)


def _commit_merge(repo: Repository, head: str, other: str, plan: MergePlan,
                  head_snap: Snapshot | None, work: Snapshot, message: str, sign: bool,
                  label: str, batch: ObjectBatch) -> MergeOutcome:
    commit = commit_plan(repo, plan, [head, other], message, sign, head_snap, work, batch,
                         f"merge {label}")
    return MergeOutcome("merged", commit.id, commit)


def commit_plan(repo: Repository, plan: MergePlan, parents: list[str], message: str,
                sign: bool, head_snap: Snapshot | None, work: Snapshot, batch: ObjectBatch,
                reflog: str, authored_as: Commit | None = None) -> Commit:
    """Commit a conflict-free plan on `parents` and bring the tree to it (with the
    author and date of `authored_as`, when given: a cherry-pick's)."""
    merged = Snapshot.from_entries(plan.merged.values())
    changed = _refuse_obstacles(repo, head_snap, merged, work)
    commit = repo.make_commit(merged.id, parents, message, sign=sign, authored_as=authored_as)
    # Data first, the ref next, the tree last: a failed ref move leaves nothing to undo,
    # and a tree move that fails or is interrupted puts both back.
    batch.add_bytes(merged.encode())
    batch.add_bytes(commit.encode())
    batch.commit()
    move_head_then_tree(repo, parents[0], commit.id, reflog, head_snap, merged, changed)
    return commit


def stop_for_conflicts(repo: Repository, plan: MergePlan, head_snap: Snapshot | None,
                       work: Snapshot, batch: ObjectBatch,
                       record: Callable[[list[ConflictRecord]], None]) -> list[ConflictRecord]:
    """Write the conflict layout into the tree; `record` saves the state first."""
    root = repo.root
    assert root is not None
    layout, records = conflict_layout(plan, lambda p: os.path.lexists(root / p))
    changed = _refuse_obstacles(repo, head_snap, layout, work)
    # Objects, then state, then files: if writing the tree fails midway, `--abort` still
    # knows what to undo, and every file it names is stored.
    batch.commit()
    record(records)
    move_tree(repo, head_snap, layout, changed)
    return records


def abort_merge(repo: Repository) -> list[str]:
    """Put every file the merge touched back to HEAD; remove side files and merge state."""
    if not merge_in_progress(repo):
        if pick_in_progress(repo):
            raise RepositoryError("no merge in progress: a cherry-pick or revert is",
                                  hint="run `muse cherry-pick --abort` or `muse revert --abort`")
        raise RepositoryError("no merge in progress", hint="there is nothing to abort")
    return abort_operation(repo)


def abort_operation(repo: Repository, doing: str = "abort the merge") -> list[str]:
    """The undo of a stopped merge, cherry-pick or revert: the tree back to HEAD."""
    head_snap = repo.head_snapshot() or Snapshot(())
    work = repo.worktree.snapshot()
    tracked = tracked_by_merge(repo) | set(head_snap.as_dict())
    check_discard(repo.worktree.root, tracked, head_snap, work, doing)
    force_tree(repo, work, head_snap, tracked)
    return sorted(clear_state(repo))
