"""Stashes: the working tree saved as a commit (parent: HEAD), and put back later.

`.muse/stash.list` holds one stash commit id per line, newest first, written
atomically under `.muse/stash.lock`; `stash@{N}` is line N (from 0). Each line
is a root for garbage collection, like a ref. A stash commit's snapshot is the
whole tree as `commit` would record it (new files included, ignored ones not),
its first parent the commit it was made on; it is never signed (it is local
scratch, not history).

Push stores the commit first, then the list line, then brings the tree back
to HEAD, so an interruption at any point loses nothing. Apply moves the
stash's changed paths from its base onto the tree under the rule `switch`
uses (`checkout.check_move`): it refuses, changing nothing, when a file it
would write or delete is not as it was when the stash was made (nor already
as the stash has it).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import untracking
from .changes import changed_paths
from .checkout import (
    blocked_paths,
    check_move,
    move_tree,
    move_tree_or_restore,
    refuse_blocked,
)
from .errors import RepositoryError, RevisionError
from .fsutil import atomic_write_bytes
from .lockfile import locked
from .merge_state import require_no_merge
from .objects import Commit, Snapshot, is_object_id
from .repo import Repository
from .textfiles import read_utf8

STASH_LIST = "stash.list"
_LOCK = "stash.lock"
_HINT = "each line must be a commit id; fix or delete the bad line"
_NAME = re.compile(r"(?:stash@\{([0-9]+)\}|([0-9]+))")


@dataclass(frozen=True)
class StashEntry:
    index: int
    id: str
    commit: Commit

    @property
    def name(self) -> str:
        return f"stash@{{{self.index}}}"

    @property
    def base(self) -> str | None:
        return self.commit.parents[0] if self.commit.parents else None


def stash_ids(muse_dir: Path) -> list[str]:
    """The stash commit ids, newest first; RepositoryError naming a damaged line."""
    path = muse_dir / STASH_LIST
    try:
        text = read_utf8(path, RepositoryError, _HINT)
    except FileNotFoundError:
        return []
    ids = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line:
            continue
        if not is_object_id(line):
            raise RepositoryError(f"{path} is damaged (line {number})", hint=_HINT)
        ids.append(line)
    return ids


@contextlib.contextmanager
def _editing(muse_dir: Path) -> Iterator[list[str]]:
    """The list, to change in place; written back atomically when the block ends cleanly."""
    with locked(muse_dir / _LOCK, what="the stash list"):
        ids = stash_ids(muse_dir)
        yield ids
        target = muse_dir / STASH_LIST
        if ids:
            atomic_write_bytes(target, "".join(oid + "\n" for oid in ids).encode())
        else:
            target.unlink(missing_ok=True)


def entries(repo: Repository) -> list[StashEntry]:
    return [StashEntry(i, oid, repo.graph.commit(oid))
            for i, oid in enumerate(stash_ids(repo.muse_dir))]


def parse_name(text: str) -> int:
    """`stash@{N}` or `N` as an index; RevisionError for anything else."""
    found = _NAME.fullmatch(text)
    if found is None:
        raise RevisionError(f"not a stash name: {text!r}",
                            hint="name one as stash@{N} or N; see `muse stash list`")
    digits = found.group(1) or found.group(2)
    if len(digits) > 18:  # past any list's end (and int() refuses thousands of digits)
        raise RevisionError(f"no stash entry {text}", hint="see `muse stash list`")
    return int(digits)


def entry(repo: Repository, index: int) -> StashEntry:
    ids = stash_ids(repo.muse_dir)
    if not 0 <= index < len(ids):
        held = {0: "there are none", 1: "there is 1"}.get(len(ids), f"there are {len(ids)}")
        raise RevisionError(f"no stash entry stash@{{{index}}}: {held}",
                            hint="see `muse stash list`")
    return StashEntry(index, ids[index], repo.graph.commit(ids[index]))


def push(repo: Repository, message: str | None = None) -> StashEntry | None:
    """Save the tree's changes as a stash and bring the tree back to HEAD; None if clean."""
    require_no_merge(repo, "stash")
    head = repo.head()
    if head is None:
        raise RepositoryError("cannot stash: there are no commits yet",
                              hint="make the first commit with `muse commit -m MESSAGE`")
    if untracking.pending(repo.muse_dir):
        raise RepositoryError("cannot stash while a `muse rm --cached` is pending",
                              hint="commit it, or undo it with `muse restore --staged .`")
    head_snap = repo.commit_snapshot(head)
    tree = repo.worktree
    with repo.store.batch() as batch:
        saved = tree.snapshot(batch)
        if saved.id == head_snap.id:
            return None
        changed = changed_paths(saved, head_snap)
        # Something the scan does not record (a link where HEAD has a file) would stop the
        # clean-up halfway: refuse now, and the batch stores nothing.
        refuse_blocked(blocked_paths(tree.root, saved, head_snap, saved, changed), "stash",
                       what="something Muse does not record",
                       hint="move it out of the way, then run it again")
        subject = message or _default_message(repo, head)
        made = repo.make_commit(saved.id, [head], subject, sign=False)
        batch.add_bytes(saved.encode())
        batch.add_bytes(made.encode())
    tree.cache.save()
    with _editing(repo.muse_dir) as ids:  # the data is stored: name it, then clean the tree
        ids.insert(0, made.id)
    move_tree(repo, saved, head_snap, changed)
    return StashEntry(0, made.id, made)


def _default_message(repo: Repository, head: str) -> str:
    where = repo.current_branch() or "(no branch)"
    return f"WIP on {where}: {head[:12]} {repo.graph.commit(head).subject}"


def apply(repo: Repository, index: int) -> tuple[StashEntry, list[str]]:
    """Put stash `index`'s changes into the tree (the stash stays); return it and the paths."""
    require_no_merge(repo, "apply a stash")
    found = entry(repo, index)
    base: Snapshot | None = repo.commit_snapshot(found.base) if found.base else None
    saved = repo.store.read_snapshot(found.commit.snapshot)
    work = repo.worktree.snapshot()
    changed = check_move(repo.worktree.root, base, saved, work, f"apply {found.name}",
                         hint="commit or stash them first: a stash goes back onto the "
                         "files as they were when it was made")
    move_tree_or_restore(repo, base, saved, changed)
    return found, changed


def drop(repo: Repository, index: int) -> StashEntry:
    found = entry(repo, index)
    with _editing(repo.muse_dir) as ids:
        if found.id in ids:  # by id: another command may have pushed meanwhile
            ids.remove(found.id)
    return found


def pop(repo: Repository, index: int) -> tuple[StashEntry, list[str]]:
    """apply, then drop the entry (only once it applied cleanly)."""
    found, changed = apply(repo, index)
    with _editing(repo.muse_dir) as ids:
        if found.id in ids:
            ids.remove(found.id)
    return found, changed
