"""Recording the working tree as a commit: data first, the branch moved last by CAS."""

from __future__ import annotations

import json

from .errors import ConflictError, UsageError
from .objects import Commit
from .refs import HEADS
from .repo import Repository

MERGE_HEAD = "MERGE_HEAD"
MERGE_CONFLICTS = "MERGE_CONFLICTS"


def pending_merge(repo: Repository) -> str | None:
    """The other parent of a merge in progress, or None."""
    path = repo.merge_state_file(MERGE_HEAD)
    return path.read_text().strip() if path.exists() else None


def unresolved_conflicts(repo: Repository) -> list[str]:
    """Conflict side files (`*~theirs*` / `*~base*`) of a merge that are still on disk."""
    path = repo.merge_state_file(MERGE_CONFLICTS)
    if not path.exists() or repo.root is None:
        return []
    records = json.loads(path.read_text())
    left = []
    for record in records:
        for side_file in record.get("side_files", []):
            if (repo.root / side_file).exists():
                left.append(side_file)
    return left


def commit_worktree(repo: Repository, message: str, *, sign: bool = True,
                    allow_empty: bool = False) -> Commit:
    """Snapshot the tree, store it, and move the current branch (or detached HEAD) to it."""
    if not message.strip():
        raise UsageError("empty commit message", hint="pass one with -m MESSAGE")
    leftovers = unresolved_conflicts(repo)
    if leftovers:
        raise ConflictError(
            f"merge conflicts are unresolved: {', '.join(leftovers[:5])} still exist",
            hint="resolve each conflicted file and delete its ~theirs/~base copies, "
            "or run `muse merge --abort`",
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
        commit = repo.make_commit(snapshot.id, parents, message, sign=sign)
        batch.add_bytes(snapshot.encode())
        batch.add_bytes(commit.encode())
    worktree.cache.save()
    target = repo.refs.head_target()
    summary = f"commit: {message.splitlines()[0] if message.strip() else ''}"
    if target is not None:
        repo.refs.update(target, head, commit.id, summary)
    else:
        repo.refs.set_head(commit.id)
    for name in (MERGE_HEAD, MERGE_CONFLICTS):
        repo.merge_state_file(name).unlink(missing_ok=True)
    return commit


def branch_name_of(ref: str | None) -> str | None:
    return ref[len(HEADS):] if ref and ref.startswith(HEADS) else None
