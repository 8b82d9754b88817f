"""`muse clean`: which untracked files to remove, and removing them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import untracking
from .errors import ConfigError, UsageError
from .ignore import IgnoreRules
from .merge_state import read_records, tracked_by_merge
from .pathspec import Pathspec, matcher
from .worktree import ScanNotes, Tracked, scan

if TYPE_CHECKING:
    from .repo import Repository

NOT_IGNORED, ALSO_IGNORED, ONLY_IGNORED = "not-ignored", "also-ignored", "only-ignored"


@dataclass(frozen=True)
class CleanPlan:
    """The files to remove, and the untracked folders passed over (without `folders`)."""

    files: list[str]
    skipped_folders: list[str]


def plan_clean(repo: Repository, specs: list[Pathspec], *, folders: bool = False,
               ignored: str = NOT_IGNORED, patterns: Iterable[str] = ()) -> CleanPlan:
    """The untracked files under `specs` that `muse clean` removes.

    Untracked means in neither HEAD nor a merge in progress (its other side and its
    `~theirs`/`~base` files), and not kept by a pending `muse rm --cached` (the user
    asked to keep that file). Without `folders`, as git's `clean` without `-d`, a file
    in a folder that holds no tracked file is passed over and the folder named.
    `patterns` are ignore rules added to `.museignore`'s (git's `-e`).
    """
    patterns = list(patterns)
    try:
        IgnoreRules(patterns, source="-e")
    except ConfigError as exc:  # a typed pattern is a usage mistake, not a config one
        raise UsageError(exc.message.replace(" line ", " pattern ", 1),
                         hint="an -e pattern is written as a .museignore line") from None
    worktree = repo.worktree
    tracked = Tracked(lambda: _kept_paths(repo))
    usual = IgnoreRules([*worktree.rules().lines, *patterns])
    # A nested repository is never entered (scan leaves it alone), whatever the rules.
    rules = usual if ignored == NOT_IGNORED else IgnoreRules([])
    wanted = matcher(specs)
    files: list[str] = []
    skipped: set[str] = set()
    for state in scan(worktree.root, rules, tracked, ScanNotes()):
        path = state.path
        if tracked.file(path) or not wanted(path):
            continue
        if ignored == ONLY_IGNORED and not usual.ignored(path) and \
                not _under_ignored_folder(usual, path):
            continue
        outer = _outermost_untracked_folder(tracked, path)
        if outer is not None and not folders:
            skipped.add(outer)
            continue
        files.append(path)
    return CleanPlan(sorted(files), sorted(skipped))


def _kept_paths(repo: Repository) -> set[str]:
    """What clean never removes: HEAD's files, a merge's, and `rm --cached` ones."""
    kept = set(repo.worktree.tracked()) | tracked_by_merge(repo)
    kept |= {side for record in read_records(repo) for side in record.side_files}
    kept |= untracking.pending(repo.muse_dir)
    return kept


def _under_ignored_folder(rules: IgnoreRules, path: str) -> bool:
    parts = path.split("/")
    return any(rules.ignored("/".join(parts[:i]), is_dir=True) for i in range(1, len(parts)))


def _outermost_untracked_folder(tracked: Tracked, path: str) -> str | None:
    """The topmost folder above `path` holding no kept file (None: every one holds one)."""
    parts = path.split("/")
    for depth in range(1, len(parts)):
        folder = "/".join(parts[:depth])
        if not tracked.folder(folder):
            return folder
    return None


def run_clean(repo: Repository, files: list[str]) -> list[str]:
    """Remove `files` (regular files only, never through a link) and the folders they
    leave empty; return those removed. A file gone meanwhile is not an error."""
    import os

    removed = []
    root, safe = repo.worktree.root, repo.worktree.safe
    with safe.session():
        for path in files:
            safe.remove(path)
            if not os.path.lexists(root / path):
                removed.append(path)
    return removed
