"""Writing the working tree without ever following a link out of it.

The one rule: every write, unlink and mkdir is done relative to a folder
descriptor reached from the root one component at a time with O_NOFOLLOW, so
a symbolic link (or a file) standing where a folder should be is refused,
never followed; new files are created with O_EXCL|O_NOFOLLOW under a reserved
work-file name, then renamed into place.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import ConflictError, UsageError
from .workfiles import tmp_name

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
_NOT_A_FOLDER = (errno.ELOOP, errno.ENOTDIR)
_ATTEMPTS = 100
_KEPT_FOLDERS = 64  # descriptor chains a session keeps open at once (a few hundred fds)
_HINT = "move it out of the way and run the command again; nothing outside the repository " \
        "was touched"


def in_the_way(path: str, what: str) -> ConflictError:
    return ConflictError(f"cannot update {path!r}: {what} is in the way", hint=_HINT)


class SafeTree:
    """Writes and removes repository-relative files under `root`, never through a link."""

    def __init__(self, root: Path, *, work_name: Callable[[], str] = tmp_name) -> None:
        self.root = root
        self.work_name = work_name  # injectable, so a test can aim it at a planted link
        # Within a `session`: each folder's descriptor chain, kept open between files.
        self._kept: dict[str, list[int]] | None = None

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Write many files: folder descriptors are opened (component by component, never
        through a link, as always) once per folder, not once per file.

        A descriptor names the folder itself, so a folder swapped for a link meanwhile
        still cannot send a write elsewhere: it lands in the folder that was opened.
        """
        if self._kept is not None:
            yield  # nested: the outer session keeps them
            return
        self._kept = {}
        try:
            yield
        finally:
            self._forget()
            self._kept = None

    def _forget(self) -> None:
        """Close every kept descriptor (a folder was removed: one may name it)."""
        if self._kept:
            for fds in self._kept.values():
                for fd in fds:
                    os.close(fd)
            self._kept.clear()

    @contextlib.contextmanager
    def _folders(self, path: str, *, create: bool) -> Iterator[list[int] | None]:
        """Descriptors of the root and each folder above `path`, or None when one is missing
        (or is not a real folder) and `create` is false."""
        folder = path.rpartition("/")[0]
        if self._kept is not None:
            kept = self._kept.get(folder)
            if kept is None:
                kept = self._open_chain(path, create=create)
                if kept is not None:
                    if len(self._kept) >= _KEPT_FOLDERS:
                        self._forget()
                    self._kept[folder] = kept
            yield kept
            return
        fds = self._open_chain(path, create=create)
        try:
            yield fds
        finally:
            for fd in fds or ():
                os.close(fd)

    def _open_chain(self, path: str, *, create: bool) -> list[int] | None:
        parts = path.split("/")[:-1]
        fds = [os.open(self.root, _DIR_FLAGS)]
        try:
            for i, part in enumerate(parts):
                fd = self._enter(fds[-1], part, create=create, shown="/".join(parts[:i + 1]))
                if fd is None:
                    break
                fds.append(fd)
            else:
                return fds
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        for fd in fds:
            os.close(fd)
        return None

    @staticmethod
    def _enter(parent: int, name: str, *, create: bool, shown: str) -> int | None:
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                return None
            os.mkdir(name, 0o777, dir_fd=parent)
            return os.open(name, _DIR_FLAGS, dir_fd=parent)
        except OSError as exc:
            if exc.errno not in _NOT_A_FOLDER:
                raise
            if not create:
                return None
            kind = "a symbolic link" if _is_link(parent, name) else "a file"
            raise in_the_way(shown, f"{kind} at {shown!r}") from None

    def write(self, path: str, fill: Callable[[BinaryIO], None], mode: int) -> os.stat_result:
        """Create or replace the regular file at `path` with what `fill` writes; return its stat."""
        name = path.rsplit("/", 1)[-1]
        with self._folders(path, create=True) as fds:
            assert fds is not None
            folder = fds[-1]
            if _clear_empty_folder(folder, name, path):
                self._forget_below(path)
            made: list[str] = []  # the work file's name, from before it can exist
            try:
                fd = self._create_work_file(folder, made)
                with os.fdopen(fd, "wb") as out:
                    fill(out)
                    out.flush()
                    os.fchmod(out.fileno(), mode)
                os.replace(made[0], name, src_dir_fd=folder, dst_dir_fd=folder)
            except BaseException:
                if made:
                    with contextlib.suppress(OSError):
                        os.unlink(made[0], dir_fd=folder)
                raise
            return os.stat(name, dir_fd=folder, follow_symlinks=False)

    def _forget_below(self, path: str) -> None:
        """Close kept descriptors of `path` and the folders below it (just removed)."""
        if self._kept:
            for folder in [f for f in self._kept if f == path or f.startswith(path + "/")]:
                for fd in self._kept.pop(folder):
                    os.close(fd)

    def _create_work_file(self, folder: int, made: list[str]) -> int:
        """A new file in `folder` that no one else can have made or aimed elsewhere; its
        name is in `made` before it is created.

        Named first because a Ctrl-C is raised as the open returns, before any caller
        could bind the name: the caller's clean-up must still know what to remove.
        """
        for _ in range(_ATTEMPTS):
            made[:] = [self.work_name()]
            try:
                return os.open(made[0], _NEW_FILE_FLAGS, 0o600, dir_fd=folder)
            except FileExistsError:
                made.clear()  # something (perhaps a planted link) holds it: never reuse it
        raise FileExistsError(errno.EEXIST, "no free work-file name", self.work_name())

    def move(self, src: str, dst: str) -> None:
        """Rename the file or folder `src` to `dst`, never through a link and never over
        anything: an existing `dst` is a ConflictError, a missing (or linked) folder
        for it a UsageError."""
        src_name, dst_name = src.rsplit("/", 1)[-1], dst.rsplit("/", 1)[-1]
        with self._folders(src, create=False) as src_fds, \
                self._folders(dst, create=False) as dst_fds:
            if src_fds is None:
                raise in_the_way(src, "something that is not a folder")
            if dst_fds is None:
                raise UsageError(f"cannot move to {dst!r}: its folder does not exist "
                                 "(or is a symbolic link)",
                                 hint="create the folder first (Muse does not guess)")
            src_dir, dst_dir = src_fds[-1], dst_fds[-1]
            st = os.stat(src_name, dir_fd=src_dir, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                raise in_the_way(src, "a symbolic link")
            if stat.S_ISREG(st.st_mode) and _link_no_clobber(src_dir, src_name, dst_dir,
                                                             dst_name, dst):
                os.unlink(src_name, dir_fd=src_dir)
                return
            if _exists(dst_dir, dst_name):
                raise _destination_exists(dst)
            os.rename(src_name, dst_name, src_dir_fd=src_dir, dst_dir_fd=dst_dir)

    def remove(self, path: str) -> None:
        """Remove the regular file at `path` and the folders it leaves empty.

        Nothing is done when a folder above it is a link or a file (the file is
        not in the tree then), or when `path` itself is not a regular file.
        """
        parts = path.split("/")
        with self._folders(path, create=False) as fds:
            if fds is None:
                return
            try:
                st = os.stat(parts[-1], dir_fd=fds[-1], follow_symlinks=False)
            except FileNotFoundError:
                st = None
            if st is not None and stat.S_ISREG(st.st_mode):
                os.unlink(parts[-1], dir_fd=fds[-1])
            removed = False
            for depth in range(len(parts) - 1, 0, -1):
                try:
                    os.rmdir(parts[depth - 1], dir_fd=fds[depth - 1])
                    removed = True
                except OSError:
                    break  # not empty (or already gone): the folders above stay too
        if removed:
            self._forget()  # a kept descriptor may name a folder just removed


def _destination_exists(dst: str) -> ConflictError:
    return ConflictError(f"cannot move to {dst!r}: it already exists",
                         hint="move or remove it first; Muse never overwrites with mv")


def _exists(folder: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _link_no_clobber(src_dir: int, src_name: str, dst_dir: int, dst_name: str,
                     dst: str) -> bool:
    """Give a file its new name atomically without replacing anything (a hard link
    fails on an existing name, where rename would overwrite); False where the
    filesystem has no hard links, and the caller renames after checking instead."""
    try:
        os.link(src_name, dst_name, src_dir_fd=src_dir, dst_dir_fd=dst_dir,
                follow_symlinks=False)
    except FileExistsError:
        raise _destination_exists(dst) from None
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EMLINK, errno.EOPNOTSUPP):
            return False
        raise
    return True


def _is_link(folder: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _clear_empty_folder(folder: int, name: str, path: str) -> bool:
    """Where a file goes: remove empty folders (True when it did); refuse a link or a folder
    holding files."""
    try:
        st = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode):
        raise in_the_way(path, "a symbolic link")
    if stat.S_ISDIR(st.st_mode):
        _remove_empty_tree(folder, name, path)
        return True
    return False


def _remove_empty_tree(parent: int, name: str, path: str) -> None:
    fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
    try:
        with os.scandir(fd) as entries:
            children = [(e.name, e.is_dir(follow_symlinks=False)) for e in entries]
        for child, is_dir in children:
            if not is_dir:
                raise in_the_way(path, f"a folder holding {path}/{child}")
            _remove_empty_tree(fd, child, f"{path}/{child}")
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent)
