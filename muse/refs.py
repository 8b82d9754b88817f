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
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import ConflictError, RefConflictError, RepositoryError, UsageError
from .fsutil import atomic_write_bytes
from .lockfile import locked
from .objects import is_object_id

HEADS = "refs/heads/"
TAGS = "refs/tags/"
REMOTES = "refs/remotes/"
_FORBIDDEN = set(" ~^:?*[\\\x7f")


# A ref is a file, and its lock and recovery files add a suffix: 200 bytes leaves room for
# them under the 255-byte file-name limit of every common filesystem.
MAX_REF_PART_BYTES = 200


def check_ref_name(name: str) -> str:
    """Refuse names git would refuse: `..`, control characters, `~^:?*[\\`, `.lock` ends."""
    bad = (
        not name.startswith("refs/")
        or name.endswith("/")
        or name.endswith(".lock")
        or ".." in name
        or "//" in name
        or "@{" in name
        or any(ord(c) < 0x20 or c in _FORBIDDEN for c in name)
        or any(part.startswith(".") or part == "" for part in name.split("/"))
    )
    if not bad and any(len(part.encode("utf-8")) > MAX_REF_PART_BYTES
                       for part in name.split("/")):
        raise UsageError(f"ref name component over {MAX_REF_PART_BYTES} bytes: {name[:60]!r}…",
                         hint="use a shorter name")
    if bad:
        raise UsageError(
            f"invalid ref name {name!r}",
            hint="names may not contain spaces, '..', '~^:?*[\\' or start with '.'",
        )
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
            value = self._path(name).read_text().strip()
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
                if filename.endswith(".lock") or ".stale-" in filename or filename.startswith("."):
                    continue  # lock files and the leftovers of lock recovery
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

    def head_target(self) -> str | None:
        """The ref HEAD points at, or None when HEAD is detached."""
        text = (self.root / "HEAD").read_text().strip()
        if text.startswith("ref: "):
            return text[5:]
        return None

    def head_commit(self) -> str | None:
        """The commit HEAD resolves to; None on an unborn branch."""
        text = (self.root / "HEAD").read_text().strip()
        if text.startswith("ref: "):
            return self.read(text[5:])
        if not is_object_id(text):
            raise RepositoryError(f"HEAD is damaged: {text[:80]!r}")
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
        one of its folders (that ref's name), or refs below `name` (`name/`); else None."""
        parts = name.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if self._path(prefix).is_file():
                return prefix
        return name + "/" if self._path(name).is_dir() else None

    def transaction(self, updates: Sequence[RefUpdate], message: str) -> None:
        """Apply every update or none: all expected old values must still hold."""
        names = [u.name for u in updates]
        if len(set(names)) != len(names):
            raise UsageError("a ref appears twice in one update")
        for name in names:
            check_ref_name(name)
        for u in updates:
            other = self.clash(u.name) if u.new is not None else None
            if other is not None:
                raise ConflictError(f"cannot create ref {u.name}: {other} is in the way",
                                    hint="a ref name cannot also be a folder of other refs")
        with contextlib.ExitStack() as stack:
            for name in sorted(names):
                lock = self._path(name + ".lock")
                lock.parent.mkdir(parents=True, exist_ok=True)
                stack.enter_context(locked(lock, what=f"ref {name}"))
            for u in updates:
                current = self.read(u.name)
                if current != u.old:
                    raise RefConflictError(
                        f"ref {u.name} moved: expected {_short(u.old)}, found {_short(current)}",
                        hint="another command changed it; look again and retry",
                    )
            for u in updates:
                self._write(u, message)

    def _write(self, u: RefUpdate, message: str) -> None:
        path = self._path(u.name)
        if u.new is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            self._prune_empty_dirs(path.parent)
        else:
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
        for line in log.read_text(encoding="utf-8").splitlines():
            old, new, when, msg = [*line.split(" ", 3), ""][:4]
            yield (None if old == "-" else old, None if new == "-" else new, int(when), msg)


def _short(oid: str | None) -> str:
    return oid[:12] if oid else "(none)"
