"""Pending `muse rm --cached`: paths the next commit leaves out although the files stay.

Muse has no staging area, so the one thing a commit needs told is which
tracked files to stop tracking. `.muse/untrack.list` holds those paths, one
per line, sorted, written atomically under `.muse/untrack.lock`. The working
tree's scan leaves them out (so `status` shows them as deleted, and `commit`
records them so); a commit takes off the list the paths it recorded (one
added while it ran stays), `muse restore --staged PATH` takes a path back
off it, and `reset --hard` or `--mixed` clears it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import RepositoryError, UnsafePathError
from .fsutil import atomic_write_bytes
from .lockfile import locked
from .paths import validate_path
from .textfiles import read_utf8

UNTRACK_LIST = "untrack.list"
_LOCK = "untrack.lock"
_HINT = "undo it with `muse restore --staged .`, or delete .muse/untrack.list"


def pending(muse_dir: Path) -> frozenset[str]:
    """The paths waiting to be untracked; RepositoryError when the list is damaged."""
    path = muse_dir / UNTRACK_LIST
    try:
        text = read_utf8(path, RepositoryError, _HINT)
    except FileNotFoundError:
        return frozenset()
    found = set()
    for number, line in enumerate(text.split("\n"), 1):
        if not line:
            continue
        try:
            found.add(validate_path(line))
        except UnsafePathError:
            raise RepositoryError(f"{path} is damaged (line {number})", hint=_HINT) from None
    return frozenset(found)


def _write(muse_dir: Path, paths: Iterable[str]) -> None:
    listed = sorted(set(paths))
    target = muse_dir / UNTRACK_LIST
    if not listed:
        target.unlink(missing_ok=True)
        return
    atomic_write_bytes(target, "".join(p + "\n" for p in listed).encode())


@contextlib.contextmanager
def _editing(muse_dir: Path) -> Iterator[set[str]]:
    """The list, to change in place; written back (atomically) when the block ends cleanly."""
    with locked(muse_dir / _LOCK, what="the untrack list"):
        paths = set(pending(muse_dir))
        yield paths
        _write(muse_dir, paths)


def add(muse_dir: Path, paths: Iterable[str]) -> None:
    with _editing(muse_dir) as current:
        current.update(paths)


def discard(muse_dir: Path, paths: Iterable[str]) -> None:
    with _editing(muse_dir) as current:
        current.difference_update(paths)


def clear(muse_dir: Path) -> None:
    """Forget every pending untrack (`reset --hard` / `--mixed`).

    Works on a damaged list too: clearing it is one way out.
    """
    with locked(muse_dir / _LOCK, what="the untrack list"):
        (muse_dir / UNTRACK_LIST).unlink(missing_ok=True)
