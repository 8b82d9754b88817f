"""Cherry-pick and revert: one commit's change (or its undoing) applied onto HEAD.

Both are the three-way merge of `merge.settle`: cherry-pick C merges HEAD
with C against C's parent; revert C merges HEAD with C's parent against C.
A clean result is committed at once on HEAD alone (a cherry-pick with C's
author and date, as git keeps them; a revert as this user, now); conflicts stop as a
merge does, with PICK_HEAD instead of MERGE_HEAD (`merge_state`), until
`--continue` (or `muse commit`) records the commit or `--abort` undoes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import RepositoryError, UsageError
from .merge import abort_operation, commit_plan, refuse_dirty, settle, stop_for_conflicts
from .merge_state import (
    PICK_ACTIONS,
    ConflictRecord,
    PickState,
    pending_pick,
    pick_in_progress,
    require_no_merge,
    write_pick_state,
)
from .objects import Commit, Snapshot
from .repo import Repository

CHERRY_PICK, REVERT = PICK_ACTIONS


@dataclass(frozen=True)
class PickOutcome:
    """What a cherry-pick or revert did: "committed", "empty" (nothing changed) or "conflicts"."""

    kind: str
    action: str
    picked: str
    commit: Commit | None = None
    conflicts: list[ConflictRecord] = field(default_factory=list)
    warnings: tuple[str, ...] = ()


def cherry_pick(repo: Repository, commit: str, *, mainline: int | None = None,
                sign: bool = True, favour: str | None = None,
                record_origin: bool = False) -> PickOutcome:
    """Apply the change `commit` made (against parent `mainline` of a merge) onto HEAD."""
    parent = _parent(repo, commit, mainline, CHERRY_PICK)
    message = repo.graph.commit(commit).message
    if record_origin:
        message = f"{message.rstrip()}\n\n(cherry picked from commit {commit})"
    return _apply(repo, CHERRY_PICK, commit, parent, commit, message, sign, favour)


def revert(repo: Repository, commit: str, *, mainline: int | None = None,
           sign: bool = True, favour: str | None = None) -> PickOutcome:
    """Undo the change `commit` made, as a new commit on HEAD."""
    parent = _parent(repo, commit, mainline, REVERT)
    subject = repo.graph.commit(commit).subject
    message = f'Revert "{subject}"\n\nThis reverts commit {commit}.'
    if mainline is not None and parent is not None:
        message = message[:-1] + f", reversing\nchanges made to {parent}."
    return _apply(repo, REVERT, commit, commit, parent, message, sign, favour)


def _parent(repo: Repository, commit: str, mainline: int | None, action: str) -> str | None:
    """The parent whose change is meant: the only one, or number `mainline` of a merge."""
    parents = repo.graph.commit(commit).parents
    if len(parents) > 1:
        if mainline is None:
            raise UsageError(f"commit {commit[:12]} is a merge: which side's change is meant?",
                             hint=f"pass -m 1 for the change against its first parent "
                             f"(`muse {action} -m 1 REV`), -m 2 for the second")
        if not 1 <= mainline <= len(parents):
            raise UsageError(f"commit {commit[:12]} has no parent number {mainline}",
                             hint=f"-m takes 1 to {len(parents)}")
        return parents[mainline - 1]
    if mainline is not None:
        raise UsageError(f"-m only applies to a merge commit; {commit[:12]} is not one",
                         hint=f"drop -m: muse {action} REV")
    return parents[0] if parents else None


def _apply(repo: Repository, action: str, picked: str, base: str | None, theirs: str | None,
           message: str, sign: bool, favour: str | None) -> PickOutcome:
    require_no_merge(repo, action)
    head = repo.head()
    if head is None:
        raise RepositoryError(f"cannot {action}: branch {repo.current_branch()!r} has no "
                              "commits yet", hint="make a first commit, or use `muse merge`")
    head_snap = repo.head_snapshot()
    work = repo.worktree.snapshot()
    refuse_dirty(head_snap, work, action)
    state = PickState(action, picked, base, theirs, message)
    with repo.store.batch() as batch:
        plan = settle(repo, _tree(repo, base), head_snap, _tree(repo, theirs), batch, favour)
        if plan.conflicts:
            records = stop_for_conflicts(repo, plan, head_snap, work, batch,
                                         lambda found: write_pick_state(repo, state, found))
            return PickOutcome("conflicts", action, picked, conflicts=records,
                               warnings=plan.warnings)
        if head_snap is not None and Snapshot.from_entries(plan.merged.values()).id \
                == head_snap.id:
            return PickOutcome("empty", action, picked, warnings=plan.warnings)
        original = repo.graph.commit(picked)
        # As git: a cherry-pick keeps the picked commit's author and date (the signature
        # is this user's); a revert is this user's own change, dated now.
        made = commit_plan(repo, plan, [head], message, sign, head_snap, work, batch,
                           f"{action}: {original.subject}",
                           authored_as=original if action == CHERRY_PICK else None)
        return PickOutcome("committed", action, picked, made, warnings=plan.warnings)


def _tree(repo: Repository, commit: str | None) -> Snapshot:
    return repo.commit_snapshot(commit) if commit is not None else Snapshot(())


def _require_pick(repo: Repository, action: str) -> PickState:
    state = pending_pick(repo)
    if state is None:
        raise RepositoryError(f"no {action} in progress", hint="there is nothing to continue "
                              "or abort")
    if state.action != action:
        raise RepositoryError(f"no {action} in progress: a {state.action} is",
                              hint=f"use `muse {state.action} --continue` or "
                              f"`muse {state.action} --abort`")
    return state


def continue_pick(repo: Repository, action: str, *, sign: bool = True) -> Commit:
    """Commit the resolved tree with the stopped pick's message; the state goes."""
    from .committing import commit_worktree

    state = _require_pick(repo, action)
    return commit_worktree(repo, state.message, sign=sign)


def abort_pick(repo: Repository, action: str) -> list[str]:
    """Put the tree back to HEAD; remove side files and the pick's state."""
    if not pick_in_progress(repo):
        raise RepositoryError(f"no {action} in progress", hint="there is nothing to abort")
    try:
        state = pending_pick(repo)
    except RepositoryError:
        state = None  # a damaged PICK_HEAD: aborting is how one gets out, so it must work
    if state is not None and state.action != action:
        _require_pick(repo, action)  # names the operation that is in progress
    return abort_operation(repo, f"abort the {action}")
