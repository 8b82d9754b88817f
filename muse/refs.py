"""Refs: named pointers to commits, moved only by compare-and-swap under a lock.

    HEAD                      "ref: refs/heads/main" or a commit id (detached)
    refs/heads/NAME           branches
    refs/tags/NAME            lightweight tags
    refs/remotes/REMOTE/NAME  remote-tracking refs
    logs/REF                  reflog: "old new time message" lines

A transaction locks every ref it touches (in sorted order, so two transactions
cannot deadlock), checks every expected old value, then renames the new values
into place. Callers write data first and refs last: no ref names a commit
whose closure is not durably stored.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .display import UNSAFE_TEXT_CHARS, printable
from .errors import ConflictError, RefConflictError, RepositoryError, UsageError
from .fsutil import atomic_write_bytes
from .lockfile import locked
from .objects import folder_clash, is_object_id
from .textfiles import read_utf8

HEADS = "refs/heads/"
TAGS = "refs/tags/"
REMOTES = "refs/remotes/"
TRANSFERABLE = (HEADS, TAGS)  # the only refs a bundle or a remote may carry
# Characters no ref name may hold: those git refuses, and every character Muse
# escapes on output (controls, line separators, bidi overrides: a name must print as is).
_FORBIDDEN = re.compile(f"[ ~^:?*\\[\\\\{UNSAFE_TEXT_CHARS}]")
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
    def __init__(self, muse_dir: Path) -> None:
        self.root = muse_dir

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

    def set_head(self, target: str) -> None:
        """Point HEAD at a ref name (`refs/heads/x`) or detach it at a commit id."""
        content = target if is_object_id(target) else f"ref: {check_ref_name(target)}"
        with locked(self.root / "HEAD.lock", what="HEAD"):
            atomic_write_bytes(self.root / "HEAD", content.encode() + b"\n")

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
                    lock = self._path(name + ".lock")
                    lock.parent.mkdir(parents=True, exist_ok=True)
                    stack.enter_context(locked(lock, what=f"ref {name}"))
                for u in updates:
                    current = self.read(u.name)
                    if current != u.old:
                        raise RefConflictError(
                            f"ref {u.name} moved: expected {_short(u.old)}, "
                            f"found {_short(current)}",
                            hint="another command changed it; look again and retry",
                        )
                for u in updates:
                    self._write(u, message)
        except BaseException:
            for name in names:  # folders made for locks of a refused transaction
                self._prune_empty_dirs(self._path(name).parent)
            raise

    def _write(self, u: RefUpdate, message: str) -> None:
        path = self._path(u.name)
        if u.new is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            self._prune_empty_dirs(path.parent)
        else:
            if path.is_dir():
                _remove_empty_folders(path)
            atomic_write_bytes(path, u.new.encode() + b"\n")
        self._log(u, message)

    def _prune_empty_dirs(self, directory: Path) -> None:
        stop = {self.root / "refs", self.root / "refs/heads", self.root / "refs/tags",
                self.root / "refs/remotes"}
        while directory not in stop and directory != self.root:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    def _log(self, u: RefUpdate, message: str) -> None:
        log = self.root / "logs" / u.name
        log.parent.mkdir(parents=True, exist_ok=True)
        line = f"{u.old or '-'} {u.new or '-'} {int(time.time())} {message}\n"
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(line.replace("\n", " ").rstrip() + "\n")

    def reflog(self, name: str) -> Iterator[tuple[str | None, str | None, int, str]]:
        log = self.root / "logs" / name
        if not log.exists():
            return
        text = read_utf8(log, RepositoryError, hint="the reflog is a record only: "
                         "fix or delete that line")
        for number, line in enumerate(text.split("\n"), 1):
            if not line:
                continue
            old, new, when, msg = [*line.split(" ", 3), ""][:4]
            ids_ok = all(v == "-" or is_object_id(v) for v in (old, new))
            if not (ids_ok and when.isascii() and when.isdigit()):
                raise RepositoryError(f"{log} is damaged (line {number})",
                                      hint="the reflog is a record only: fix or delete that line")
            yield (None if old == "-" else old, None if new == "-" else new, int(when), msg)


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
