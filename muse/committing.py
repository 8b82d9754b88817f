"""Recording the working tree as a commit: data first, the branch moved last by CAS."""

from __future__ import annotations

from . import untracking
from .errors import ConflictError, RepositoryError, UsageError
from .merge_state import end_merge, pending_merge, pending_pick, unresolved_conflicts
from .objects import Commit, Snapshot
from .repo import Repository


def commit_worktree(repo: Repository, message: str | None, *, sign: bool = True,
                    allow_empty: bool = False, amend: bool = False,
                    reset_author: bool = False) -> Commit:
    """Snapshot the tree, store it, and move the current branch (or detached HEAD) to it.

    With `amend` the new commit replaces HEAD: HEAD's parents, its message unless
    one is given, and its author and date unless `reset_author` (as git does). The
    commit ending a stopped cherry-pick keeps the picked commit's author and date.
    """
    if message is not None and not message.strip():
        raise UsageError("empty commit message", hint="pass one with -m MESSAGE")
    _refuse_unresolved(repo)
    head = repo.head()
    other = pending_merge(repo)
    replaced = _amended(repo, head, merging=other is not None) if amend else None
    # An amended commit keeps its own parents; otherwise HEAD, and a merge's other side.
    parents = list(replaced.parents) if replaced else [p for p in (head, other) if p]
    if message is None:
        if replaced is None:
            raise UsageError("a commit needs a message", hint='pass one with -m "MESSAGE"')
        message = replaced.message
    worktree = repo.worktree
    with repo.store.batch() as batch:
        snapshot = worktree.snapshot(batch)
        if not allow_empty:
            _refuse_empty(repo, snapshot, parents, amend=amend)
        authored_as = None if reset_author else replaced or _picked(repo)
        commit = repo.make_commit(snapshot.id, parents, message, sign=sign,
                                  authored_as=authored_as)
        batch.add_bytes(snapshot.encode())
        batch.add_bytes(commit.encode())
    worktree.cache.save()
    verb = "commit (amend)" if amend else "commit"
    repo.move_head(head, commit.id, f"{verb}: {commit.subject}")
    end_merge(repo)
    if worktree.dropped:  # recorded now; one asked for meanwhile stays pending
        untracking.discard(repo.muse_dir, worktree.dropped)
    return commit


def _picked(repo: Repository) -> Commit | None:
    """The commit a stopped cherry-pick replays: its author, date and time zone are the
    new commit's, as git keeps them (the signature is this user's). A revert is this
    user's own change."""
    pick = pending_pick(repo)
    if pick is None or pick.action != "cherry-pick":
        return None
    return repo.graph.commit(pick.commit)


def _refuse_unresolved(repo: Repository) -> None:
    leftovers = unresolved_conflicts(repo)
    if leftovers:
        raise ConflictError(
            f"merge conflicts are unresolved: {', '.join(leftovers[:5])}"
            + (f" and {len(leftovers) - 5} more" if len(leftovers) > 5 else ""),
            hint="edit the conflict markers out of each text file and delete the "
            "~theirs/~base copies (and one name of a file renamed both ways), "
            "or settle a path with `muse resolve PATH` "
            "(--ours/--theirs); or abort the merge, cherry-pick or revert",
        )


def _amended(repo: Repository, head: str | None, *, merging: bool) -> Commit:
    """The commit `--amend` replaces: HEAD, when no merge or pick is half done."""
    if head is None:
        raise UsageError("nothing to amend: there is no commit yet",
                         hint='make the first one with `muse commit -m "MESSAGE"`')
    if merging or pending_pick(repo) is not None:
        # The amended commit would silently drop the other parent (or the pick).
        raise RepositoryError("a merge, cherry-pick or revert is in progress: cannot amend",
                              hint="finish it with `muse commit`, or abort it first")
    return repo.graph.commit(head)


def _refuse_empty(repo: Repository, snapshot: Snapshot, parents: list[str], *,
                  amend: bool) -> None:
    """A commit that changes nothing needs --allow-empty (a merge never counts as empty:
    two parents, a merge in progress or an amended merge)."""
    if len(parents) > 1:
        return
    if parents and repo.graph.commit(parents[0]).snapshot == snapshot.id:
        if amend:
            raise UsageError("nothing to commit: amending would leave a commit that changes "
                             "nothing from its parent",
                             hint="use --allow-empty to keep it anyway, or `muse reset --soft "
                             "HEAD~1` to drop it")
        raise UsageError("nothing to commit: the working tree matches HEAD",
                         hint="use --allow-empty to record a commit anyway")
    if not parents and not snapshot.entries:
        # As in git: a first commit of nothing is almost always a commit in the
        # wrong folder (or of a tree whose every file is ignored).
        raise UsageError("nothing to commit: the working tree is empty (or all ignored)",
                         hint="add files first, or use --allow-empty for an empty "
                         "first commit")
