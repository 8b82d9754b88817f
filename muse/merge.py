"""Merging another commit into HEAD: fast-forward, or a three-way merge.

The tree merges path by path (`three_way`); a path both sides changed is
then merged line by line if it is text (`content_merge`), else it stays a
file-level conflict with side files. Renames each side made since the base
(`renames`) are followed first: a file one side renamed and the other edited
merges at the new path; renaming it both ways, or renaming what the other
side deleted, or onto what it added, is a conflict (`_follow_renames`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace

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
    RENAME_ADD,
    RENAME_DELETE,
    RENAME_RENAME,
    ConflictRecord,
    clear_state,
    merge_in_progress,
    pick_in_progress,
    require_no_merge,
    tracked_by_merge,
    write_state,
)
from .objects import Commit, Snapshot, SnapshotEntry
from .renames import Renames, find_renames, rename_settings
from .repo import Repository
from .store import ObjectBatch

FF_AUTO, FF_ONLY, FF_NEVER = "auto", "only", "never"


@dataclass(frozen=True)
class Renamed:
    """The paths one renamed file has: in the base, and on each side (None: not there)."""

    base: str
    ours: str | None
    theirs: str | None

    def as_record(self) -> dict[str, str | None]:
        return {"base": self.base, "ours": self.ours, "theirs": self.theirs}


@dataclass(frozen=True)
class Conflict:
    """A path both sides changed differently; entries are None where a side has no file.

    For a renamed file, `renamed` says where it was and where each side put it; a
    rename-rename conflict sits at our name, their version at their name.
    """

    path: str
    kind: str
    base: SnapshotEntry | None
    ours: SnapshotEntry | None
    theirs: SnapshotEntry | None
    markers: bool = False  # merged line by line: the file at the path holds conflict markers
    renamed: Renamed | None = None


@dataclass(frozen=True)
class SideRenames:
    """The renames each side made since the merge base."""

    ours: Renames
    theirs: Renames


@dataclass(frozen=True)
class MergePlan:
    """The merged tree (a conflicted path holds ours, or theirs if ours deleted it, or the
    line-merged text with its conflict markers), and warnings to show once."""

    merged: dict[str, SnapshotEntry]
    conflicts: list[Conflict]
    warnings: tuple[str, ...] = ()


def _conflict_kind(base: SnapshotEntry | None, ours: SnapshotEntry | None,
                   theirs: SnapshotEntry | None) -> str:
    if base is None:
        return "both-added"
    if ours is None or theirs is None:
        return "modify-delete"
    return "both-modified"


def three_way(base: Snapshot | None, ours: Snapshot, theirs: Snapshot,
              renames: SideRenames | None = None) -> MergePlan:
    """Merge per path: a side that did not change yields to the side that did.

    With `renames`, each renamed file is first brought to one path on all three trees
    (`_follow_renames`), so its edits meet there.
    """
    b = dict(base.as_dict()) if base is not None else {}
    o, t = dict(ours.as_dict()), dict(theirs.as_dict())
    merged: dict[str, SnapshotEntry] = {}
    conflicts: list[Conflict] = []
    labels: dict[str, Renamed] = {}
    if renames is not None:
        labels = _follow_renames(b, o, t, renames, merged, conflicts)
    for path in sorted(b.keys() | o.keys() | t.keys()):
        if path in merged:
            continue  # settled by a rename conflict
        eb, eo, et = b.get(path), o.get(path), t.get(path)
        if file_key(eo) == file_key(et) or file_key(eb) == file_key(et):
            chosen = eo
        elif file_key(eb) == file_key(eo):
            chosen = et
        else:
            kind = _conflict_kind(eb, eo, et)
            label = labels.get(path)
            if label is not None and kind == "both-added":
                kind = RENAME_ADD  # a rename onto a path the other side added
            conflicts.append(Conflict(path, kind, eb, eo, et, renamed=label))
            chosen = eo or et
        if chosen is not None:
            merged[path] = chosen
    conflicts.sort(key=lambda c: c.path)
    return MergePlan(merged, conflicts)


def _follow_renames(b: dict[str, SnapshotEntry], o: dict[str, SnapshotEntry],
                    t: dict[str, SnapshotEntry], renames: SideRenames,
                    merged: dict[str, SnapshotEntry], conflicts: list[Conflict],
                    ) -> dict[str, Renamed]:
    """Move each renamed file to one path in `b`, `o` and `t` (in place), as git does.

    - renamed on one side, kept (edited or not) on the other: the other side's file and
      the base's move to the new path, where the path-by-path merge meets them;
    - renamed to the same path on both: the base's moves there;
    - renamed to different paths: a rename-rename conflict, ours at our name, theirs
      at theirs (put in `merged` and `conflicts` here);
    - renamed on one side, deleted on the other: a rename-delete conflict at the new
      path, holding the renamed file;
    - renamed onto a path the other side added (or renamed another file to): nothing
      moves; the new path is a both-added conflict, labelled rename-add.
    Returns the paths whose conflicts are labelled with their rename.
    """
    labels: dict[str, Renamed] = {}
    ours_r = {r.old: r.new for r in renames.ours.found}
    theirs_r = {r.old: r.new for r in renames.theirs.found}
    for old in sorted(ours_r.keys() | theirs_r.keys()):
        if old not in b:
            continue
        new_o, new_t = ours_r.get(old), theirs_r.get(old)
        if new_o is not None and new_t is not None:
            if new_o == new_t:
                b[new_o] = b.pop(old).at(new_o)
                labels[new_o] = Renamed(old, new_o, new_t)
            elif new_o not in t and new_t not in o and new_o in o and new_t in t:
                eb, eo, et = b.pop(old), o.pop(new_o), t.pop(new_t)
                merged[new_o], merged[new_t] = eo, et
                conflicts.append(Conflict(new_o, RENAME_RENAME, eb.at(new_o), eo, et,
                                          renamed=Renamed(old, new_o, new_t)))
            continue
        ours_side = new_o is not None
        new = new_o if new_o is not None else new_t
        assert new is not None
        mine, other = (o, t) if ours_side else (t, o)
        if new not in mine:
            continue
        kept = old if old in other else None  # where the other side has the file
        label = Renamed(old, new, kept) if ours_side else Renamed(old, kept, new)
        if new in other:  # the other side has a file of its own there
            labels[new] = label
        elif kept is not None:
            b[new] = b.pop(old).at(new)
            other[new] = other.pop(old).at(new)
            labels[new] = label
        else:
            eb, entry = b.pop(old), mine[new]
            merged[new] = entry
            ours_entry, theirs_entry = (entry, None) if ours_side else (None, entry)
            conflicts.append(Conflict(new, RENAME_DELETE, eb.at(new), ours_entry,
                                      theirs_entry, renamed=label))
    return labels


def side_renames(repo: Repository, base: Snapshot | None, ours: Snapshot | None,
                 theirs: Snapshot) -> tuple[SideRenames | None, tuple[str, ...]]:
    """The renames base → ours and base → theirs, and a warning if similarity was skipped.

    `merge.renames` false turns detection off; `merge.renameLimit` bounds the similarity
    step (see `renames`). Only deleted files the other side changed (or deleted) are
    compared by similarity: for the rest, following the rename gives the same tree.
    """
    if base is None or ours is None:
        return None, ()
    settings = rename_settings(repo, "merge")
    if not settings.enabled:
        return None, ()
    limit = settings.limit
    b, o, t = base.as_dict(), ours.as_dict(), theirs.as_dict()

    def changed_on(side: dict[str, SnapshotEntry]) -> Callable[[str], bool]:
        return lambda path: file_key(side.get(path)) != file_key(b.get(path))

    store = repo.store
    found_o = find_renames(b, o, store.read, store.size, limit=limit, relevant=changed_on(t))
    found_t = find_renames(b, t, store.read, store.size, limit=limit, relevant=changed_on(o))
    skipped = max(found_o.skipped, found_t.skipped)
    warnings: tuple[str, ...] = ()
    if skipped:
        warnings = (settings.skipped_warning(skipped),)
    return SideRenames(found_o, found_t), warnings


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
        if c.markers or c.kind == RENAME_RENAME:
            sides = []  # the markers show every side / their version is at their name
        names = []
        for side, entry in sides:
            name = side_file_name(c.path, side, lambda p: p in layout or on_disk(p))
            layout[name] = entry.at(name)
            names.append(name)
        records.append(ConflictRecord(c.path, c.kind, _oid(c.base), _oid(c.ours),
                                      _oid(c.theirs), names, markers=c.markers,
                                      renamed=c.renamed.as_record() if c.renamed else None))
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
    warnings: tuple[str, ...] = ()


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
            return MergeOutcome("conflicts", head, None, records, plan.warnings)
        outcome = _commit_merge(repo, head, other, plan, head_snap, work, text, sign, label,
                                batch)
        return replace(outcome, warnings=plan.warnings)


def settle(repo: Repository, base: Snapshot | None, head_snap: Snapshot | None,
           theirs: Snapshot, batch: ObjectBatch, favour: str | None) -> MergePlan:
    """The three-way merge of trees then of text contents; merged bytes go into `batch`."""
    from .content_merge import conflict_style, merge_contents

    renames, warnings = side_renames(repo, base, head_snap, theirs)
    plan = replace(three_way(base, head_snap or Snapshot(()), theirs, renames),
                   warnings=warnings)
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
