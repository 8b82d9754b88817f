"""Changing named files of the working tree: restore, rm (and rm --cached), mv.

Every write goes through the working tree's SafeTree (never through a link,
each file whole or not at all) and streams object bytes from the store.
Every pathspec is resolved and checked before anything is touched, so a bad
one refuses the whole command with nothing changed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from . import untracking
from .changes import compare, file_key
from .checkout import discard_blocked, force_tree, list_paths, refuse_blocked
from .errors import ConflictError, RepositoryError, UsageError
from .ignore import IgnoreRules
from .objects import Snapshot, SnapshotEntry
from .pathspec import TOP, Pathspec, matches_any, restrict_to, unmatched
from .repo import Repository
from .revisions import resolve
from .worktree import hash_file


@dataclass
class RestoreResult:
    """What a restore did: files written, files removed, `rm --cached` undone."""

    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unstaged: list[str] = field(default_factory=list)


def _no_match(spec: Pathspec, where: str) -> UsageError:
    return UsageError(f"pathspec {spec.typed!r} did not match any file {where}",
                      hint="see `muse status` and `muse show --name-status REV` for the files")


def restore(repo: Repository, specs: list[Pathspec], *, source: str | None = None,
            worktree: bool = True, staged: bool = False) -> RestoreResult:
    """Bring the files `specs` name back as `source` (default HEAD) holds them.

    Files tracked in HEAD under a spec but absent from `source` are removed (as
    `git restore`); untracked files are never overwritten or removed. With
    `staged`, a pending `rm --cached` of those paths is undone.
    """
    head = repo.head_snapshot()
    if source is None and head is None:
        raise RepositoryError("nothing to restore from: there are no commits yet",
                              hint="make the first commit with `muse commit -m MESSAGE`")
    label = source or "HEAD"
    source_snap = repo.commit_snapshot(resolve(repo, source)) if source else head
    target = restrict_to(source_snap, specs)
    tracked = set(restrict_to(head, specs).as_dict())
    pending = {p for p in untracking.pending(repo.muse_dir) if matches_any(specs, p)}
    known = set(target.as_dict()) | tracked | (pending if staged else set())
    for spec in unmatched(specs, known):
        raise _no_match(spec, f"in {label}" if worktree else "tracked or being untracked")
    result = RestoreResult()
    if worktree:
        _restore_files(repo, target, tracked, label, result)
    if staged and pending:
        untracking.discard(repo.muse_dir, pending)
        result.unstaged = sorted(pending)
    return result


def _restore_files(repo: Repository, target: Snapshot, tracked: set[str], label: str,
                   result: RestoreResult) -> None:
    tree = repo.worktree
    # A tracked file is rewritten whatever it holds: read (hash) only the untracked files
    # the source would replace, to tell whether that loses anything.
    untracked_targets = set(target.as_dict()) - tracked
    work = tree.snapshot(hash_if=untracked_targets.__contains__)
    tree.cache.save()
    refuse_blocked(discard_blocked(tree.root, tracked, target, work), f"restore from {label}",
                   what="files Muse does not track",
                   hint="move them out of the way, then run it again")
    wanted = set(tracked) | set(target.as_dict())
    before = Snapshot(tuple(e for e in work.entries if e.path in wanted))
    for change in compare(before, target):
        (result.removed if change.new is None else result.written).append(change.path)
    # A path the scan leaves out (`rm --cached`) is missing from `before`: it is
    # listed as written, and is.
    force_tree(repo, work, target, tracked)


@dataclass
class RemoveResult:
    """The tracked files `rm` removed (or, with --cached, stopped tracking)."""

    paths: list[str]
    cached: bool
    not_ignored: list[str] = field(default_factory=list)  # --cached: a later commit re-adds


def remove(repo: Repository, specs: list[Pathspec], *, cached: bool = False,
           recursive: bool = False, force: bool = False) -> RemoveResult:
    """Delete tracked files (the next commit records it), or with `cached` only untrack them."""
    head = repo.head_snapshot()
    head_map = head.as_dict() if head is not None else {}
    chosen: set[str] = set()
    for spec in specs:
        matched = [p for p in head_map if spec.matches(p)]
        if not matched:
            raise UsageError(f"pathspec {spec.typed!r} did not match any tracked file",
                             hint="only files in the last commit can be removed; "
                             "see `muse status`")
        if (spec.path == TOP or spec.path not in head_map) and not recursive:
            raise UsageError(f"not removing folder {spec.typed!r} without -r",
                             hint=f"muse rm -r {spec.typed}")
        chosen.update(matched)
    paths = sorted(chosen)
    if not cached and not force:
        _refuse_local_changes(repo, paths, head_map)
    if cached:
        untracking.add(repo.muse_dir, paths)
        rules = repo.worktree.rules()
        loose = [p for p in paths if not rules.ignored(p) and not _folder_ignored(rules, p)]
        return RemoveResult(paths, cached=True, not_ignored=loose)
    tree = repo.worktree
    for path in paths:
        tree.remove_entry(path)
    tree.cache.save()
    return RemoveResult(paths, cached=False)


def _folder_ignored(rules: IgnoreRules, path: str) -> bool:
    parts = path.split("/")
    return any(rules.ignored("/".join(parts[:i]), is_dir=True) for i in range(1, len(parts)))


def _refuse_local_changes(repo: Repository, paths: list[str],
                          head_map: dict[str, SnapshotEntry]) -> None:
    """rm without -f must not destroy edits: a file that differs from HEAD is refused."""
    tree = repo.worktree
    work = tree.snapshot().as_dict()
    tree.cache.save()
    changed = []
    for path in paths:
        entry = work.get(path)
        full = tree.root / path
        if entry is None and os.path.isfile(full) and not os.path.islink(full):
            # Left out of the scan by a pending `rm --cached`: look at the bytes themselves.
            if hash_file(full) != head_map[path].oid:
                changed.append(path)
        elif entry is not None and file_key(entry) != file_key(head_map[path]):
            changed.append(path)
    if changed:
        raise ConflictError(f"cannot remove files with local changes: {list_paths(changed)}",
                            hint="commit them first, keep the files with --cached, or "
                            "discard the changes with -f")


def move(repo: Repository, src: Pathspec, dst: Pathspec) -> tuple[str, str]:
    """Rename a file or folder the next commit records (every file in it moves).

    Without a staging area, "tracked" for mv means: in HEAD, or recorded by the
    next commit (any file not ignored), so a file moved once can be moved again.
    Returns (from, to).
    """
    head = repo.head_snapshot()
    tracked = [p for p in (head.as_dict() if head else {}) if src.matches(p)]
    if not tracked:
        tracked = [p for p in repo.worktree.snapshot().as_dict() if src.matches(p)]
    if src.path == TOP:
        raise UsageError("cannot move the whole working tree", hint="name a file or folder")
    root = repo.worktree.root
    if not os.path.lexists(root / src.path):
        raise UsageError(f"cannot move {src.typed!r}: it does not exist",
                         hint="see `muse status`")
    if not tracked:
        raise UsageError(f"cannot move {src.typed!r}: Muse does not track it (it is ignored)",
                         hint="move it with your file manager")
    target = dst.path
    full_dst = root / target if target != TOP else root
    if target == TOP or (full_dst.is_dir() and not full_dst.is_symlink()):
        name = src.path.rsplit("/", 1)[-1]
        target = f"{target}/{name}" if target != TOP else name
    if target == src.path or target.startswith(src.path + "/"):
        raise UsageError(f"cannot move {src.typed!r} into itself")
    repo.worktree.safe.move(src.path, target)
    return src.path, target


def ignored_destination(repo: Repository, path: str) -> bool:
    """True when `.museignore` matches a moved path: the next commit will not record it."""
    rules = repo.worktree.rules()
    is_dir = (repo.worktree.root / path).is_dir()
    return rules.ignored(path, is_dir=is_dir) or _folder_ignored(rules, path)
