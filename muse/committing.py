"""Recording the working tree as a commit: data first, the branch moved last by CAS."""

from __future__ import annotations

from . import untracking
from .errors import ConflictError, UsageError
from .merge_state import end_merge, pending_merge, unresolved_conflicts
from .objects import Commit
from .repo import Repository


def commit_worktree(repo: Repository, message: str, *, sign: bool = True,
                    allow_empty: bool = False) -> Commit:
    """Snapshot the tree, store it, and move the current branch (or detached HEAD) to it."""
    if not message.strip():
        raise UsageError("empty commit message", hint="pass one with -m MESSAGE")
    leftovers = unresolved_conflicts(repo)
    if leftovers:
        raise ConflictError(
            f"merge conflicts are unresolved: {', '.join(leftovers[:5])}"
            + (f" and {len(leftovers) - 5} more" if len(leftovers) > 5 else ""),
            hint="edit the conflict markers out of each text file and delete the "
            "~theirs/~base copies, or settle a path with `muse resolve PATH` "
            "(--ours/--theirs); or abort the merge, cherry-pick or revert",
        )
    head = repo.head()
    other = pending_merge(repo)
    parents = [p for p in (head, other) if p]
    worktree = repo.worktree
    with repo.store.batch() as batch:
        snapshot = worktree.snapshot(batch)
        unchanged = head is not None and repo.graph.commit(head).snapshot == snapshot.id
        if unchanged and other is None and not allow_empty:
            raise UsageError("nothing to commit: the working tree matches HEAD",
                             hint="use --allow-empty to record a commit anyway")
        if head is None and not snapshot.entries and not allow_empty:
            # As in git: a first commit of nothing is almost always a commit in the
            # wrong folder (or of a tree whose every file is ignored).
            raise UsageError("nothing to commit: the working tree is empty (or all ignored)",
                             hint="add files first, or use --allow-empty for an empty "
                             "first commit")
        commit = repo.make_commit(snapshot.id, parents, message, sign=sign)
        batch.add_bytes(snapshot.encode())
        batch.add_bytes(commit.encode())
    worktree.cache.save()
    repo.move_head(head, commit.id, f"commit: {commit.subject}")
    end_merge(repo)
    if worktree.dropped:  # recorded now; one asked for meanwhile stays pending
        untracking.discard(repo.muse_dir, worktree.dropped)
    return commit
