"""A merge in progress on disk: `.muse/MERGE_HEAD`, `.muse/MERGE_CONFLICTS` and side files.

MERGE_CONFLICTS is a JSON list of records, one per conflicted path:
    {"path", "kind", "base", "ours", "theirs", "side_files", "markers", "resolved",
     "renamed"}
`kind` is "both-modified", "modify-delete" or "both-added", or for a renamed
file "rename-rename", "rename-delete" or "rename-add"; base/ours/theirs are
object ids or null; side_files are the `NAME~theirs.EXT` / `NAME~base.EXT` copies
written next to the path, which must be gone before `muse commit` will record
the merge (`unresolved_conflicts`). `markers` says a text file was merged line
by line and holds conflict markers: the path is unresolved while they remain,
unless `resolved` (set by `muse resolve`). `renamed` (null unless the file was
renamed) gives the file's path in the base and on each side (null where a side
has none); a rename-rename conflict sits at our name with theirs at their name,
and is unresolved while both names exist (or either holds conflict markers).

A cherry-pick or revert that stops on conflicts uses the same records, with
`.muse/PICK_HEAD` (JSON: action, commit, base, theirs, message) instead of
MERGE_HEAD: its commit has one parent.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, replace

from .errors import RepositoryError
from .fsutil import atomic_write_bytes
from .objects import is_object_id
from .paths import is_safe_path
from .repo import Repository
from .textfiles import read_utf8
from .textmerge import file_has_conflict_markers

RENAME_RENAME, RENAME_DELETE, RENAME_ADD = "rename-rename", "rename-delete", "rename-add"
KINDS = ("both-modified", "modify-delete", "both-added", RENAME_RENAME, RENAME_DELETE,
         RENAME_ADD)
MERGE_HEAD = "MERGE_HEAD"
MERGE_CONFLICTS = "MERGE_CONFLICTS"
PICK_HEAD = "PICK_HEAD"
PICK_ACTIONS = ("cherry-pick", "revert")


@dataclass(frozen=True)
class ConflictRecord:
    path: str
    kind: str
    base: str | None
    ours: str | None
    theirs: str | None
    side_files: list[str]
    markers: bool = False
    resolved: bool = False
    renamed: dict[str, str | None] | None = None  # {"base", "ours", "theirs"}: each side's path

    def names(self) -> list[str]:
        """The paths this conflict is known by: its own, and for a rename-rename their name."""
        names = [self.path]
        if self.kind == RENAME_RENAME and self.renamed:
            theirs = self.renamed.get("theirs")
            if isinstance(theirs, str) and theirs != self.path:
                names.append(theirs)
        return names


@dataclass(frozen=True)
class PickState:
    """A cherry-pick or revert waiting for its conflicts: what it applies, and its message.

    `base` and `theirs` are the commits the three-way merge ran between (None
    for the empty tree of a root commit).
    """

    action: str
    commit: str
    base: str | None
    theirs: str | None
    message: str


_DAMAGED_HINT = "run `muse merge --abort` or `muse reset --hard`"


def merge_in_progress(repo: Repository) -> bool:
    """True while MERGE_HEAD exists, readable or not (so a damaged merge can be aborted)."""
    return repo.merge_state_file(MERGE_HEAD).exists()


def pick_in_progress(repo: Repository) -> bool:
    """True while PICK_HEAD exists, readable or not."""
    return repo.merge_state_file(PICK_HEAD).exists()


def pending_pick(repo: Repository) -> PickState | None:
    """The cherry-pick or revert in progress, or None; RepositoryError if it is damaged."""
    path = repo.merge_state_file(PICK_HEAD)
    if not path.exists():
        return None
    text = read_utf8(path, RepositoryError, _PICK_DAMAGED_HINT)
    try:
        state = PickState(**json.loads(text))
    except (ValueError, TypeError, RecursionError) as exc:
        raise RepositoryError(f"{path} is damaged: {exc}", hint=_PICK_DAMAGED_HINT) from None
    ids = [state.commit, *(c for c in (state.base, state.theirs) if c is not None)]
    if state.action not in PICK_ACTIONS or not all(is_object_id(c) for c in ids) \
            or not isinstance(state.message, str):
        raise RepositoryError(f"{path} is damaged", hint=_PICK_DAMAGED_HINT)
    return state


_PICK_DAMAGED_HINT = ("run `muse cherry-pick --abort` (or `muse revert --abort`) "
                      "or `muse reset --hard`")


def write_pick_state(repo: Repository, state: PickState, records: list[ConflictRecord]) -> None:
    """Record a stopped cherry-pick or revert: conflicts first, PICK_HEAD (the marker) last."""
    write_records(repo, records)
    payload = json.dumps(asdict(state), indent=2).encode() + b"\n"
    atomic_write_bytes(repo.merge_state_file(PICK_HEAD), payload)


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
    write_records(repo, records)
    atomic_write_bytes(repo.merge_state_file(MERGE_HEAD), other.encode() + b"\n")


def write_records(repo: Repository, records: list[ConflictRecord]) -> None:
    payload = json.dumps([asdict(r) for r in records], indent=2).encode() + b"\n"
    atomic_write_bytes(repo.merge_state_file(MERGE_CONFLICTS), payload)


def mark_resolved(repo: Repository, paths: set[str]) -> None:
    """Record that the conflicts at `paths` are settled, markers or not."""
    records = [replace(r, resolved=True) if r.path in paths else r for r in read_records(repo)]
    write_records(repo, records)


def read_records(repo: Repository) -> list[ConflictRecord]:
    path = repo.merge_state_file(MERGE_CONFLICTS)
    if not path.exists():
        return []
    text = read_utf8(path, RepositoryError, _DAMAGED_HINT)
    try:
        rows = json.loads(text)
        records = [ConflictRecord(**row) for row in rows]
    except (ValueError, TypeError, RecursionError) as exc:
        raise RepositoryError(f"{path} is damaged: {exc}", hint=_DAMAGED_HINT) from None
    for record in records:
        renamed = record.renamed
        if renamed is not None and not (
                isinstance(renamed, dict)
                and all(v is None or isinstance(v, str) for v in renamed.values())):
            raise RepositoryError(f"{path} is damaged: a bad 'renamed' for {record.path!r}",
                                  hint=_DAMAGED_HINT)
    return records


def unresolved_conflicts(repo: Repository) -> list[str]:
    """What still blocks the commit: side files (`*~theirs*` / `*~base*`) still on disk,
    and text files that still hold conflict markers (unless marked resolved)."""
    if repo.root is None:
        return []
    root = repo.root
    left: list[str] = []
    for record in read_records(repo):
        names = record.names()
        left.extend(name for name in names
                    if record.markers and not record.resolved and is_safe_path(name)
                    and file_has_conflict_markers(root / name))
        left.extend(side for side in record.side_files if (root / side).exists())
        if len(names) > 1 and not record.resolved and all(
                is_safe_path(n) and os.path.lexists(root / n) for n in names):
            left.extend([n for n in names if n not in left])  # one of two names must go
    return left


def require_no_merge(repo: Repository, doing: str) -> None:
    """Refuse `doing` while a merge, cherry-pick or revert waits to be committed or aborted."""
    other = pending_merge(repo)
    if other is not None:
        raise RepositoryError(
            f"cannot {doing}: a merge of {other[:12]} is in progress",
            hint="resolve it and run `muse commit -m MESSAGE`, or run `muse merge --abort`",
        )
    pick = pending_pick(repo)
    if pick is not None:
        raise RepositoryError(
            f"cannot {doing}: a {pick.action} of {pick.commit[:12]} is in progress",
            hint=f"resolve it and run `muse {pick.action} --continue`, "
            f"or run `muse {pick.action} --abort`",
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


def remove_untouched_side_files(repo: Repository) -> list[str]:
    """Remove the side files still exactly as the merge wrote them; return their names.

    Giving a merge up while keeping the tree (`reset --mixed`) would otherwise leave them
    as new files for the next commit to record: a copy of a stem under another name.
    They are copies of stored objects, so removing them loses nothing; one edited since
    is the user's work and stays. Read and removed as every tree write is, never through
    a link.
    """
    from .worktree import hash_file

    removed: list[str] = []
    if repo.root is None:
        return removed
    for record in _records_if_readable(repo):
        written = {record.theirs, record.base} - {None}
        for side in record.side_files:
            if not is_safe_path(side):
                continue
            with contextlib.suppress(OSError):  # gone, a folder, or a link: not ours
                if hash_file(repo.root / side) in written:
                    repo.worktree.safe.remove(side)  # nothing, below a folder that is a link
                    if not os.path.lexists(repo.root / side):
                        removed.append(side)
    return removed


def end_merge(repo: Repository) -> None:
    """Forget the merge: the conflict records first, the MERGE_HEAD marker last."""
    for name in (MERGE_CONFLICTS, PICK_HEAD, MERGE_HEAD):
        repo.merge_state_file(name).unlink(missing_ok=True)


def _records_if_readable(repo: Repository) -> list[ConflictRecord]:
    # Clearing must work even when the file is damaged: that is how one gets out.
    try:
        return read_records(repo)
    except RepositoryError:
        return []


def tracked_by_merge(repo: Repository) -> set[str]:
    """Paths a merge (or pick) in progress may have written: the other sides' snapshots."""
    try:
        others = [pending_merge(repo)]
        pick = pending_pick(repo)
    except RepositoryError:  # a damaged MERGE_HEAD or PICK_HEAD: aborting must still work
        return set()
    if pick is not None:
        others += [pick.base, pick.theirs]
    paths: set[str] = set()
    for other in others:
        if other is not None and repo.store.has(other):
            paths |= set(repo.commit_snapshot(other).as_dict())
    return paths
