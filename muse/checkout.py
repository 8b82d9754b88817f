"""Moving the working tree and HEAD between commits without losing uncommitted work."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from . import untracking
from .branches import branch_ref_name, create_branch
from .changes import changed_paths, compare, file_key
from .errors import ConflictError, RevisionError
from .interrupts import deferred_interrupts
from .merge_state import (
    clear_state,
    end_merge,
    remove_untouched_side_files,
    require_no_merge,
    tracked_by_merge,
)
from .objects import Snapshot
from .reflog import switch_message
from .repo import Repository

SHOWN_PATHS = 10


def restrict(snapshot: Snapshot | None, paths: Iterable[str]) -> Snapshot:
    """The entries of `snapshot` at `paths` (still sorted, so still a valid snapshot)."""
    wanted = set(paths)
    entries = snapshot.entries if snapshot is not None else ()
    return Snapshot(tuple(e for e in entries if e.path in wanted))


def list_paths(items: list[str]) -> str:
    shown = ", ".join(items[:SHOWN_PATHS])
    more = len(items) - SHOWN_PATHS
    return shown + (f" and {more} more" if more > 0 else "")


def blocked_paths(root: Path, head: Snapshot | None, target: Snapshot, work: Snapshot,
                  changed: list[str]) -> list[str]:
    """Uncommitted work that moving the tree from `head` to `target` would destroy.

    Only the `changed` paths (those differing between `head` and `target`,
    see `changes.changed_paths`) are touched. Such a path
    is blocked when the working file differs from `head` (modified, deleted or
    untracked) and is not already what `target` holds, or when something the
    scan does not see stands in the way (see `_obstacles`). Each item reads
    "path (why)".
    """
    h = head.as_dict() if head is not None else {}
    t, w = target.as_dict(), work.as_dict()
    removable = {p for p in changed if p not in t and file_key(w.get(p)) == file_key(h.get(p))}
    blocked: dict[str, str] = {}
    for path in changed:
        mine = file_key(w.get(path))
        if mine not in (file_key(h.get(path)), file_key(t.get(path))):
            blocked[path] = ("modified" if path in w else "deleted") if path in h else "untracked"
        elif path in t and path not in w:
            for obstacle, why in _obstacles(root, path, removable):
                blocked.setdefault(obstacle, why)
        else:
            for obstacle, why in _links_above(root, path):
                blocked.setdefault(obstacle, why)
    return [f"{path} ({why})" for path, why in sorted(blocked.items())]


def discard_blocked(root: Path, tracked: set[str], target: Snapshot, work: Snapshot) -> list[str]:
    """What a move that discards local changes (`--force`, `reset --hard`) must still not destroy.

    Changes to `tracked` files may go; anything Muse does not track may not: an
    untracked or ignored file, a symbolic link, or a folder holding such files
    where `target` writes a file. Items read "path (why)", as `blocked_paths`.
    """
    w = work.as_dict()
    blocked: dict[str, str] = {}
    for path, entry in target.as_dict().items():
        have = w.get(path)
        if have is None:
            for obstacle, why in _obstacles(root, path, tracked):
                blocked.setdefault(obstacle, why)
        elif path not in tracked and file_key(have) != file_key(entry):
            blocked[path] = "untracked"
    for path in tracked - set(target.as_dict()):
        for obstacle, why in _links_above(root, path):
            blocked.setdefault(obstacle, why)
    return [f"{path} ({why})" for path, why in sorted(blocked.items())]


def _links_above(root: Path, path: str) -> list[tuple[str, str]]:
    """A symbolic link standing for a folder of `path`: removing through it would reach outside."""
    parts = path.split("/")
    for i in range(1, len(parts)):
        prefix = "/".join(parts[:i])
        if (root / prefix).is_symlink():
            return [(prefix, "symlink")]
    return []


def _obstacles(root: Path, path: str, removable: set[str]) -> list[tuple[str, str]]:
    """On-disk things at or above `path` that writing a file there would destroy.

    A regular file in `removable` may go; a symbolic link never does (Muse
    does not track links, and never writes through one).
    """
    parts = path.split("/")
    for i in range(1, len(parts)):
        prefix = "/".join(parts[:i])
        full = root / prefix
        if full.is_symlink():
            return [(prefix, "symlink")]
        if full.exists() and not full.is_dir():
            return [] if prefix in removable else [(prefix, "untracked")]
    full = root / path
    if full.is_symlink():
        return [(path, "symlink")]
    if full.is_file():
        return [] if path in removable else [(path, "untracked")]
    found = []
    if full.is_dir():
        for dirpath, dirs, files in os.walk(full):
            links = [d for d in dirs if (Path(dirpath) / d).is_symlink()]
            for name in [*files, *links]:
                rel = (Path(dirpath) / name).relative_to(root).as_posix()
                if rel not in removable:
                    found.append((rel, "untracked"))
    return found


_FORCE_HINT = "commit them, move them out of the way, or use --force to discard them"


def refuse_blocked(blocked: list[str], doing: str, *, what: str = "local changes",
                   hint: str = _FORCE_HINT) -> None:
    """The one refusal of every command that moves the tree: name what is in the way."""
    if blocked:
        raise ConflictError(f"cannot {doing}: it would overwrite {what}: {list_paths(blocked)}",
                            hint=hint)


def check_move(root: Path, head: Snapshot | None, target: Snapshot, work: Snapshot,
               doing: str, *, what: str = "local changes", hint: str = _FORCE_HINT) -> list[str]:
    """Refuse (ConflictError) if moving the tree loses work; else the paths the move rewrites."""
    changed = changed_paths(head, target)
    refuse_blocked(blocked_paths(root, head, target, work, changed), doing, what=what, hint=hint)
    return changed


def check_discard(root: Path, tracked: set[str], target: Snapshot, work: Snapshot,
                  doing: str) -> None:
    """Refuse (ConflictError) if discarding tracked changes would destroy untracked files."""
    refuse_blocked(discard_blocked(root, tracked, target, work), doing,
                   what="files Muse does not track",
                   hint="move them out of the way (a forced move only discards changes to "
                   "tracked files), then run it again")


def move_tree(repo: Repository, head: Snapshot | None, target: Snapshot,
              changed: list[str]) -> None:
    """Rewrite only the `changed` paths (head vs target): local edits elsewhere stay."""
    repo.worktree.apply(restrict(head, changed), restrict(target, changed))


def move_tree_or_restore(repo: Repository, head: Snapshot | None, target: Snapshot,
                         changed: list[str], then: Callable[[], None] = lambda: None) -> None:
    """`move_tree`, then `then` (the ref move that makes the new tree official).

    A failure or Ctrl-C before `then` is done puts the paths already rewritten
    back as `head` had them, so a later commit never records half of each side;
    `then` runs with Ctrl-C held back, so once it is done the move stands whole.
    """
    done: list[str] = []
    official = False
    try:
        repo.worktree.apply(restrict(head, changed), restrict(target, changed), done)
        with deferred_interrupts():  # an interrupt here lands after `official` is set
            then()
            official = True
    except BaseException:
        if not official:
            # Held back too: a second Ctrl-C must not stop the undo halfway.
            with deferred_interrupts(), contextlib.suppress(Exception):  # report the first
                repo.worktree.apply(restrict(target, done), restrict(head, done))
        raise


def move_head_then_tree(repo: Repository, old: str | None, new: str, message: str,
                        head: Snapshot | None, target: Snapshot, changed: list[str]) -> None:
    """Move HEAD's branch (or detached HEAD) from `old` to `new`, then the tree to `target`.

    The ref goes first, by CAS, so a concurrent commit is caught before any file
    is written. A failure or Ctrl-C before the tree is whole puts the tree back
    and then the ref, so the two never disagree.
    """
    moved = whole = False

    def tree_whole() -> None:
        nonlocal whole
        whole = True

    try:
        with deferred_interrupts():
            repo.move_head(old, new, message)
            moved = True
        move_tree_or_restore(repo, head, target, changed, tree_whole)
    except BaseException:
        if moved and not whole:
            with deferred_interrupts(), contextlib.suppress(Exception):  # report the first
                _move_head_back(repo, new, old, f"{message}: undone")
        raise


def _move_head_back(repo: Repository, new: str, old: str | None, message: str) -> None:
    branch = repo.refs.head_target()
    if branch is not None:
        repo.refs.update(branch, new, old, message)  # None: the branch is unborn again
    elif old is not None:
        repo.refs.set_head(old, message)


def force_tree(repo: Repository, work: Snapshot, target: Snapshot, tracked: set[str]) -> None:
    """Make every `tracked` path match `target`, discarding local edits; others stay."""
    repo.worktree.apply(restrict(work, tracked | set(target.as_dict())), target)


@dataclass
class Checkout:
    """A checked, not yet performed, move of the tree from HEAD to `commit`."""

    repo: Repository
    commit: str
    head: Snapshot | None
    target: Snapshot
    work: Snapshot
    force: bool
    changed: list[str]
    carried: list[str] = field(default_factory=list)

    def run(self, then: Callable[[], None]) -> None:
        """Move the tree, then run `then` (the HEAD move): see `move_tree_or_restore`."""
        if self.force:
            tracked = set(self.head.as_dict()) if self.head is not None else set()
            force_tree(self.repo, self.work, self.target, tracked)
            then()
        else:
            move_tree_or_restore(self.repo, self.head, self.target, self.changed, then)

    def run_after_head(self, old: str | None, message: str) -> None:
        """Move HEAD from `old` to this commit first, then the tree (not for a forced move)."""
        assert not self.force
        move_head_then_tree(self.repo, old, self.commit, message, self.head, self.target,
                            self.changed)


def plan_checkout(repo: Repository, commit: str, *, force: bool, doing: str) -> Checkout:
    """Check that moving to `commit` loses nothing (unless `force`); change nothing yet."""
    head = repo.head_snapshot()
    target = repo.commit_snapshot(commit)
    work = repo.worktree.snapshot()
    root = repo.worktree.root
    if force:
        tracked = set(head.as_dict()) if head is not None else set()
        check_discard(root, tracked, target, work, doing)
        return Checkout(repo, commit, head, target, work, force, changed_paths(head, target))
    changed = check_move(root, head, target, work, doing)
    plan = Checkout(repo, commit, head, target, work, force, changed)
    moved = set(changed)
    plan.carried = [c.path for c in compare(head, work) if c.path not in moved]
    return plan


@dataclass(frozen=True)
class SwitchResult:
    """Where HEAD went: a branch (or None when detached), its commit, and what was kept."""

    branch: str | None
    commit: str | None
    created: bool = False
    unchanged: bool = False
    carried: tuple[str, ...] = ()
    moved: bool = False  # `switch -C`: an existing branch was moved to the start first


def switch_branch(repo: Repository, name: str, *, force: bool = False) -> SwitchResult:
    """Point HEAD at branch NAME and bring the tree to its commit."""
    require_no_merge(repo, "switch branches")
    ref = branch_ref_name(name)
    commit = repo.refs.read(ref)
    if commit is None:
        raise RevisionError(f"no branch named {name!r}",
                            hint=f"create it with `muse switch -c {name}`, "
                            "or use `muse switch --detach REV` for a commit")
    if ref == repo.refs.head_target():
        return SwitchResult(name, commit, unchanged=True)
    plan = plan_checkout(repo, commit, force=force, doing=f"switch to {name!r}")
    message = switch_message(_where(repo), name)
    plan.run(lambda: repo.refs.set_head(ref, message))
    return SwitchResult(name, commit, carried=tuple(plan.carried))


def switch_new_branch(repo: Repository, name: str, start: str | None, *, force: bool = False,
                      start_label: str = "HEAD", reset: bool = False) -> SwitchResult:
    """Create branch NAME at `start` (default HEAD) and switch to it; with `reset`
    (`switch -C`) an existing NAME is moved there instead of refused."""
    require_no_merge(repo, "switch branches")
    ref = branch_ref_name(name)
    if repo.refs.read(ref) is not None and not reset:
        raise ConflictError(f"a branch named {name!r} already exists",
                            hint=f"switch to it with `muse switch {name}`, "
                            f"or move it with `muse branch -f {name} REV`")
    commit = start or repo.head()
    if commit is None:
        # Nothing to start from: the new branch is born with the first commit.
        repo.refs.set_head(ref, f"switch: new branch {name}")
        return SwitchResult(name, None, created=True)
    plan = plan_checkout(repo, commit, force=force, doing=f"switch to {name!r}")
    made = create_branch(repo, name, commit, start_label=start_label, force=reset)  # files last
    message = switch_message(_where(repo), name)
    plan.run(lambda: repo.refs.set_head(ref, message))
    return SwitchResult(name, commit, created=made.old is None, moved=made.old is not None,
                        carried=tuple(plan.carried))


def switch_detached(repo: Repository, commit: str, *, force: bool = False) -> SwitchResult:
    """Detach HEAD at `commit` and bring the tree there."""
    require_no_merge(repo, "switch")
    plan = plan_checkout(repo, commit, force=force, doing=f"switch to {commit[:12]}")
    message = switch_message(_where(repo), commit[:12])
    plan.run(lambda: repo.refs.set_head(commit, message))
    return SwitchResult(None, commit, carried=tuple(plan.carried))


def _where(repo: Repository) -> str:
    """What HEAD is on now, for a reflog message: the branch, or the detached commit."""
    branch = repo.current_branch()
    if branch is not None:
        return branch
    head = repo.head()
    return head[:12] if head else "(none)"


def reset_hard(repo: Repository, commit: str, label: str) -> None:
    """Move the current branch (or detached HEAD) to `commit`; make tracked files match it.

    Tracked means in HEAD's snapshot, or written by a merge in progress;
    untracked files are left alone, and one standing where `commit` writes a
    file makes the reset refuse (nothing moved). Any merge state is cleared.
    """
    head = repo.head()
    head_snap = repo.commit_snapshot(head) if head is not None else None
    target = repo.commit_snapshot(commit)
    work = repo.worktree.snapshot()
    tracked = tracked_by_merge(repo)
    if head_snap is not None:
        tracked |= set(head_snap.as_dict())
    check_discard(repo.worktree.root, tracked, target, work, f"reset to {label}")
    if head != commit:
        repo.move_head(head, commit, f"reset: moving to {label}")
    force_tree(repo, work, target, tracked)
    clear_state(repo)
    untracking.clear(repo.muse_dir)  # a hard reset forgets a pending `rm --cached` too


SOFT, MIXED = "soft", "mixed"


def reset_branch(repo: Repository, commit: str, label: str, *, mode: str) -> list[str]:
    """`reset --soft` / `--mixed`: move only the current branch (or detached HEAD); return
    the side files of a merge given up that were removed.

    Muse has no staging area (a commit records the whole working tree), so both
    leave every file as it is: what differs from `commit` shows in `status` and
    goes into the next commit. They differ only on a merge in progress: --soft
    refuses (as git does), --mixed gives the merge up and keeps its files, but for
    side files still as the merge wrote them.
    """
    if mode == SOFT:
        require_no_merge(repo, "reset --soft")
    head = repo.head()
    if head != commit:
        repo.move_head(head, commit, f"reset: moving to {label}")
    removed: list[str] = []
    if mode == MIXED:
        removed = remove_untouched_side_files(repo)
        end_merge(repo)
        untracking.clear(repo.muse_dir)  # --mixed resets what a commit is told: rm --cached
    return removed
