"""A merge in progress on disk: `.muse/MERGE_HEAD`, `.muse/MERGE_CONFLICTS` and side files.

MERGE_CONFLICTS is a JSON list of records, one per conflicted path:
    {"path", "kind", "base", "ours", "theirs", "side_files"}
`kind` is "both-modified", "modify-delete" or "both-added"; base/ours/theirs are
object ids or null; side_files are the `NAME~theirs.EXT` / `NAME~base.EXT` copies
written next to the path, which must be gone before `muse commit` will record
the merge (`unresolved_conflicts`).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass

from .errors import RepositoryError
from .fsutil import atomic_write_bytes
from .objects import is_object_id
from .paths import is_safe_path
from .repo import Repository
from .textfiles import read_utf8

KINDS = ("both-modified", "modify-delete", "both-added")
MERGE_HEAD = "MERGE_HEAD"
MERGE_CONFLICTS = "MERGE_CONFLICTS"


@dataclass(frozen=True)
class ConflictRecord:
    path: str
    kind: str
    base: str | None
    ours: str | None
    theirs: str | None
    side_files: list[str]


_DAMAGED_HINT = "run `muse merge --abort` or `muse reset --hard`"


def merge_in_progress(repo: Repository) -> bool:
    """True while MERGE_HEAD exists, readable or not (so a damaged merge can be aborted)."""
    return repo.merge_state_file(MERGE_HEAD).exists()


def pending_merge(repo: Repository) -> str | None:
    """The other parent of a merge in progress, or None; RepositoryError if it is damaged."""
    path = repo.merge_state_file(MERGE_HEAD)
    if not path.exists():
        return None
    text = read_utf8(path, RepositoryError, _DAMAGED_HINT).strip()
    if not is_object_id(text):
        raise RepositoryError(f"{path} is damaged: {text[:80]!r}", hint=_DAMAGED_HINT)
    return text


def write_state(repo: Repository, other: str, records: list[ConflictRecord]) -> None:
    """Record the merge: conflicts first, MERGE_HEAD (the marker) last."""
    payload = json.dumps([asdict(r) for r in records], indent=2).encode() + b"\n"
    atomic_write_bytes(repo.merge_state_file(MERGE_CONFLICTS), payload)
    atomic_write_bytes(repo.merge_state_file(MERGE_HEAD), other.encode() + b"\n")


def read_records(repo: Repository) -> list[ConflictRecord]:
    path = repo.merge_state_file(MERGE_CONFLICTS)
    if not path.exists():
        return []
    text = read_utf8(path, RepositoryError, _DAMAGED_HINT)
    try:
        rows = json.loads(text)
        return [ConflictRecord(**row) for row in rows]
    except (ValueError, TypeError, RecursionError) as exc:
        raise RepositoryError(f"{path} is damaged: {exc}", hint=_DAMAGED_HINT) from None


def unresolved_conflicts(repo: Repository) -> list[str]:
    """Conflict side files (`*~theirs*` / `*~base*`) of a merge that are still on disk."""
    if repo.root is None:
        return []
    root = repo.root
    return [side for record in read_records(repo) for side in record.side_files
            if (root / side).exists()]


def require_no_merge(repo: Repository, doing: str) -> None:
    """Refuse `doing` while a merge waits to be committed or aborted."""
    other = pending_merge(repo)
    if other is not None:
        raise RepositoryError(
            f"cannot {doing}: a merge of {other[:12]} is in progress",
            hint="resolve it and run `muse commit -m MESSAGE`, or run `muse merge --abort`",
        )


def clear_state(repo: Repository) -> list[str]:
    """Delete the side files and both state files; return the side files removed.

    Side files are copies of stored objects, so removing them loses nothing.
    """
    removed = []
    if repo.root is not None:
        for record in _records_if_readable(repo):
            for side in record.side_files:
                if not is_safe_path(side):
                    continue  # a damaged record must never delete outside the tree
                with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                    (repo.root / side).unlink()
                    removed.append(side)
    end_merge(repo)
    return removed


def end_merge(repo: Repository) -> None:
    """Forget the merge: the conflict records first, the MERGE_HEAD marker last."""
    for name in (MERGE_CONFLICTS, MERGE_HEAD):
        repo.merge_state_file(name).unlink(missing_ok=True)


def _records_if_readable(repo: Repository) -> list[ConflictRecord]:
    # Clearing must work even when the file is damaged: that is how one gets out.
    try:
        return read_records(repo)
    except RepositoryError:
        return []


def tracked_by_merge(repo: Repository) -> set[str]:
    """Paths a merge in progress may have written: the other side's whole snapshot."""
    try:
        other = pending_merge(repo)
    except RepositoryError:  # a damaged MERGE_HEAD: aborting must still work
        return set()
    if other is None or not repo.store.has(other):
        return set()
    return set(repo.commit_snapshot(other).as_dict())
