"""Refs: named pointers to commits, moved only by compare-and-swap under a lock.

    HEAD                      "ref: refs/heads/main" or a commit id (detached)
    refs/heads/NAME           branches
    refs/tags/NAME            lightweight tags
    refs/remotes/REMOTE/NAME  remote-tracking refs
    logs/REF                  reflog: one line per move (muse.reflog); logs/HEAD too

A transaction locks every ref it touches (in sorted order, so two transactions
cannot deadlock), checks every expected old value, then renames the new values
into place. Callers write data first and refs last: no ref names a commit
whose closure is not durably stored. Every move is recorded in the reflog here,
in the one place refs move, never by the commands that move them.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .display import NOT_UTF8_CHARS, UNSAFE_TEXT_CHARS, printable
from .errors import ConflictError, RefConflictError, RepositoryError, UsageError
from .fsutil import atomic_write_bytes
from .lockfile import locked
from .objects import folder_clash, is_object_id
from .reflog import (
    DamagedLine,
    ReflogEntry,
    append,
    format_line,
    move_log,
    newest_first,
    rewrite,
)
from .textfiles import read_utf8

HEADS = "refs/heads/"
TAGS = "refs/tags/"
REMOTES = "refs/remotes/"
TRANSFERABLE = (HEADS, TAGS)  # the only refs a bundle or a remote may carry
# Characters no ref name may hold: those git refuses, and every character Muse
# escapes on output (controls, line separators, bidi overrides: a name must print as is),
# and bytes that are not UTF-8 (a name typed as raw bytes: no ref file could hold it).
_FORBIDDEN = re.compile(f"[ ~^:?*\\[\\\\{UNSAFE_TEXT_CHARS}{NOT_UTF8_CHARS}]")
# The ref store's own files beside the refs: NAME.lock while a ref is locked and
# NAME.lock.stale-PID while a stale lock is broken (muse.lockfile). No component of
# a ref name may take either form, so no ref is ever mistaken for one, or hidden.
_RESERVED_END = re.compile(r"\.lock(\.stale-[0-9]+)?$")
# Short names that would read as revision syntax or an option rather than as a name.
_RESERVED_SHORT = frozenset({"HEAD", "@"})
_HINT = ("names may not contain spaces, '..', '~^:?*[\\', start with '.', "
         "end with '.lock', or be HEAD, @ or start with '-'")


def short_ref_name(name: str) -> str | None:
    """What a user types for a ref: after `refs/heads/`, `refs/tags/` or `refs/remotes/R/`."""
    for prefix in (HEADS, TAGS):
        if name.startswith(prefix):
            return name[len(prefix):]
    if name.startswith(REMOTES):
        _remote, slash, rest = name[len(REMOTES):].partition("/")
        return rest if slash else None
    return None


# A ref is a file, and its lock and recovery files add a suffix: 200 bytes leaves room for
# them under the 255-byte file-name limit of every common filesystem.
MAX_REF_PART_BYTES = 200


def check_ref_name(name: str) -> str:
    """The one rule for a ref name, however it arrives (command, bundle, remote, config).

    Refuses what git refuses (`..`, control characters, `~^:?*[\\`, a component
    starting with `.` or ending `.lock`), the ref store's reserved file names, and
    short names a command line could not name back: `HEAD`, `@`, a leading `-`.
    """
    parts = name.split("/")
    short = short_ref_name(name)
    bad = (
        not name.startswith("refs/")
        or name.endswith("/")
        or ".." in name
        or "//" in name
        or "@{" in name
        or _FORBIDDEN.search(name) is not None
        or any(part.startswith(".") or part == "" or _RESERVED_END.search(part)
               for part in parts)
        or (short is not None and (short in _RESERVED_SHORT or short.startswith("-")))
    )
    if not bad and any(len(part.encode("utf-8")) > MAX_REF_PART_BYTES
                       for part in name.split("/")):
        raise UsageError(f"ref name component over {MAX_REF_PART_BYTES} bytes: {name[:60]!r}…",
                         hint="use a shorter name")
    if bad:
        raise UsageError(f"invalid ref name {name!r}", hint=_HINT)
    return name


def check_transferable_ref(name: str) -> str:
    """check_ref_name, and a branch or a tag: the only refs bundles and remotes carry."""
    check_ref_name(name)
    if not name.startswith(TRANSFERABLE) or name in TRANSFERABLE:
        raise UsageError(f"ref {name!r} is neither a branch nor a tag",
                         hint="bundles and remotes carry only refs/heads/ and refs/tags/")
    return name


@dataclass(frozen=True)
class RefUpdate:
    """Move `name` from `old` to `new`; None as `old`: must not exist; None as `new`: delete."""

    name: str
    old: str | None
    new: str | None


class RefStore:
    def __init__(self, muse_dir: Path, identity: Callable[[], str] | None = None) -> None:
        self.root = muse_dir
        # Who moved a ref, for the reflog ("Name <email>"): asked only when one moves.
        self._identity = identity or (lambda: "unknown")

    def _path(self, name: str) -> Path:
        return self.root / name

    def read(self, name: str) -> str | None:
        try:
            value = read_utf8(self._path(name), RepositoryError).strip()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        if not is_object_id(value):
            raise RepositoryError(f"ref {name} is damaged: {value[:80]!r}")
        return value

    def names(self, prefix: str = "refs/") -> list[str]:
        """Every ref file's name under `prefix`, sorted, without reading (or judging) it."""
        base = self.root / prefix.rstrip("/")
        found = []
        for dirpath, _dirs, files in os.walk(base):
            for filename in files:
                if _RESERVED_END.search(filename) or filename.startswith("."):
                    continue  # lock files, the leftovers of lock recovery, temp files
                found.append((Path(dirpath) / filename).relative_to(self.root).as_posix())
        return sorted(found)

    def list(self, prefix: str = "refs/") -> dict[str, str]:
        """Every ref under `prefix`, sorted by name."""
        found: dict[str, str] = {}
        for name in self.names(prefix):
            value = self.read(name)
            if value is not None:
                found[name] = value
        return found

    # -- HEAD ---------------------------------------------------------------

    def _head_text(self) -> str:
        return read_utf8(self.root / "HEAD", RepositoryError,
                         hint="point it at a branch again: `muse switch BRANCH`").strip()

    def head_target(self) -> str | None:
        """The ref HEAD points at, or None when HEAD is detached (at a commit id)."""
        text = self._head_text()
        if text.startswith("ref: "):
            return text[5:]
        _check_detached(text)  # damaged is not detached: say which it is
        return None

    def head_commit(self) -> str | None:
        """The commit HEAD resolves to; None on an unborn branch."""
        text = self._head_text()
        if text.startswith("ref: "):
            return self.read(text[5:])
        _check_detached(text)
        return text

    def set_head(self, target: str, message: str) -> None:
        """Point HEAD at a ref name (`refs/heads/x`) or detach it at a commit id; a change
        of the commit HEAD resolves to (or of the branch) is recorded in logs/HEAD."""
        content = target if is_object_id(target) else f"ref: {check_ref_name(target)}"
        with locked(self.root / "HEAD.lock", what="HEAD"):
            before = self._head_text_if_readable()
            if before == content:
                return
            old = self._commit_of_head_text(before)
            new = target if is_object_id(target) else self.read(target)
            if new is not None:
                self._append_log("HEAD", old, new, message)
            atomic_write_bytes(self.root / "HEAD", content.encode() + b"\n")

    def _head_text_if_readable(self) -> str | None:
        try:
            return self._head_text()
        except (RepositoryError, FileNotFoundError):
            return None

    def _commit_of_head_text(self, text: str | None) -> str | None:
        """The commit a HEAD text resolves to; None when unborn, damaged or unreadable."""
        if text is None:
            return None
        if text.startswith("ref: "):
            with contextlib.suppress(RepositoryError, UsageError):
                return self.read(check_ref_name(text[5:]))
            return None
        return text if is_object_id(text) else None

    def _append_log(self, name: str, old: str | None, new: str | None, message: str) -> None:
        append(self.root, name, format_line(old, new, self._identity(), message))

    def reflog(self, name: str) -> Iterator[ReflogEntry | DamagedLine]:
        """REF's recorded moves, newest first; damaged lines come as DamagedLine."""
        return newest_first(self.root, name)

    def log_names(self) -> tuple[str, ...]:
        """Every ref with a log (HEAD first), whether or not the ref still exists."""
        logs = self.root / "logs"
        found = sorted(str(p.relative_to(logs)) for p in logs.rglob("*")
                       if p.is_file() and p.name != "HEAD" and not p.name.startswith(".tmp-"))
        return (*(["HEAD"] if (logs / "HEAD").is_file() else []), *found)

    def expire_reflog(self, name: str, keep: Callable[[ReflogEntry], bool], *,
                      dry_run: bool = False) -> tuple[int, int]:
        """Rewrite REF's log (or HEAD's) without the entries `keep` refuses: (removed, kept).

        Held meanwhile: the locks every appender of that log holds. A ref's log is
        appended to under the ref's lock; HEAD's under HEAD's lock (a switch, a detached
        commit) or under the lock of the branch HEAD is on (a commit) — taken in the
        order a transaction takes them, the branch first.
        """
        with contextlib.ExitStack() as stack:
            if name == "HEAD":
                branch = self.head_target()
                if branch is not None:
                    stack.enter_context(self._lock(branch))
                stack.enter_context(locked(self.root / "HEAD.lock", what="HEAD"))
                if self.head_target() != branch:
                    raise ConflictError("HEAD moved while its reflog was being expired",
                                        hint="run the command again")
            else:
                stack.enter_context(self._lock(name))
            return rewrite(self.root, name, keep, dry_run=dry_run)

    def _lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        lock = self._path(name + ".lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        return locked(lock, what=f"ref {name}")

    # -- compare-and-swap ---------------------------------------------------

    def update(self, name: str, old: str | None, new: str | None, message: str) -> None:
        self.transaction([RefUpdate(name, old, new)], message)

    def clash(self, name: str) -> str | None:
        """What keeps ref `name` from being created, as refs are files: a ref standing at
        one of its folders (that ref's name), or refs below `name` (`name/`); else None.

        A folder holding no ref (left empty by a crash) is not in the way: writing
        the ref removes it.
        """
        parts = name.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if self._path(prefix).is_file():
                return prefix
        return name + "/" if self._path(name).is_dir() and self.names(name + "/") else None

    def check_transaction(self, updates: Sequence[RefUpdate]) -> None:
        """Refuse a transaction as a whole, before anything is written: bad or repeated
        names, and refs it would create that clash with each other or with existing refs."""
        names = [u.name for u in updates]
        if len(set(names)) != len(names):
            raise UsageError("a ref appears twice in one update")
        for name in names:
            check_ref_name(name)
        created = sorted(u.name for u in updates if u.new is not None)
        pair = folder_clash(created)
        if pair is not None:
            raise ConflictError(f"cannot create both {pair[0]} and {pair[1]}",
                                hint="a ref name cannot also be a folder of other refs")
        for name in created:
            other = self.clash(name)
            if other is not None:
                raise ConflictError(f"cannot create ref {name}: {other} is in the way",
                                    hint="a ref name cannot also be a folder of other refs")

    def transaction(self, updates: Sequence[RefUpdate], message: str) -> None:
        """Apply every update or none: all expected old values must still hold."""
        self.check_transaction(updates)
        names = sorted(u.name for u in updates)
        try:
            with contextlib.ExitStack() as stack:
                for name in names:
                    stack.enter_context(self._lock(name))
                for u in updates:
                    current = self.read(u.name)
                    if current != u.old:
                        raise RefConflictError(
                            f"ref {u.name} moved: expected {_short(u.old)}, "
                            f"found {_short(current)}",
                            hint="another command changed it; look again and retry",
                        )
                # The record first, as git does: a move is never made unrecorded, and
                # a line for a move a crash then stopped names only stored commits.
                self._log_moves(updates, message)
                for u in updates:
                    self._write(u)
        except BaseException:
            for name in names:  # folders made for locks of a refused transaction
                self._prune_empty_dirs(self._path(name).parent)
            raise

    def rename(self, old_name: str, new_name: str, expected: str, message: str) -> None:
        """Move ref `old_name` (still at `expected`) to `new_name` with its reflog; HEAD
        follows when it pointed at `old_name`. `new_name` must not exist.

        Order: the log, the new ref, HEAD, then the old ref goes: a crash in between
        leaves at worst both names on one commit, never a HEAD on a missing branch.
        """
        self.check_transaction([RefUpdate(new_name, None, expected)])
        names = sorted({old_name, new_name})
        try:
            with contextlib.ExitStack() as stack:
                for name in names:
                    stack.enter_context(self._lock(name))
                stack.enter_context(locked(self.root / "HEAD.lock", what="HEAD"))
                current = self.read(old_name)
                if current != expected:
                    raise RefConflictError(
                        f"ref {old_name} moved: expected {_short(expected)}, "
                        f"found {_short(current)}",
                        hint="another command changed it; look again and retry")
                if self.read(new_name) is not None:
                    raise ConflictError(f"ref {new_name} already exists")
                move_log(self.root, old_name, new_name)
                self._append_log(new_name, expected, expected, message)
                self._write(RefUpdate(new_name, None, expected))
                if self._head_text_if_readable() == f"ref: {old_name}":
                    atomic_write_bytes(self.root / "HEAD", f"ref: {new_name}\n".encode())
                self._write(RefUpdate(old_name, expected, None))
        except BaseException:
            for name in names:
                self._prune_empty_dirs(self._path(name).parent)
            raise

    def _log_moves(self, updates: Sequence[RefUpdate], message: str) -> None:
        head = self._head_text_if_readable()
        followed = head[5:] if head is not None and head.startswith("ref: ") else None
        for u in updates:
            self._append_log(u.name, u.old, u.new, message)
            if u.name == followed and u.new is not None:
                self._append_log("HEAD", u.old, u.new, message)

    def _write(self, u: RefUpdate) -> None:
        path = self._path(u.name)
        if u.new is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            self._prune_empty_dirs(path.parent)
        else:
            if path.is_dir():
                _remove_empty_folders(path)
            atomic_write_bytes(path, u.new.encode() + b"\n")

    def _prune_empty_dirs(self, directory: Path) -> None:
        stop = {self.root / "refs", self.root / "refs/heads", self.root / "refs/tags",
                self.root / "refs/remotes"}
        while directory not in stop and directory != self.root:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent


def _remove_empty_folders(path: Path) -> None:
    """Remove a tree of folders holding no file (clash() let it through); else refuse."""
    try:
        for dirpath, _dirs, _files in os.walk(path, topdown=False):
            os.rmdir(dirpath)
    except OSError:
        raise ConflictError(f"cannot create ref {path.name}: refs appeared below it",
                            hint="another command is creating refs there; retry") from None


def _check_detached(text: str) -> None:
    if not is_object_id(text):
        raise RepositoryError(f"HEAD is damaged: '{printable(text[:80])}'",
                              hint="point it at a branch again: `muse switch BRANCH`, or "
                              "write `ref: refs/heads/main` into .muse/HEAD")


def _short(oid: str | None) -> str:
    return oid[:12] if oid else "(none)"
