"""Durable file writes: temp file, fsync, rename — the only way Muse replaces a file."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def _read_umask() -> int:
    # os.umask can only be read by setting it; done once, at import, before any thread.
    current = os.umask(0o022)
    os.umask(current)
    return current


UMASK = _read_umask()
# Stored objects, packs and their indexes never change once named: read-only,
# readable by whoever the umask lets in (a remote on a shared drive serves a team).
STORED_MODE = 0o444 & ~UMASK


def masked(mode: int) -> int:
    """`mode` as the user's umask allows it, as a plain open() would create it."""
    return mode & ~UMASK


def fsync_dir(directory: Path) -> None:
    """Make a rename inside `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(target: Path, *, mode: int = 0o644, tmp_dir: Path | None = None,
                  durable: bool = True) -> Iterator[BinaryIO]:
    """Yield a file to write; on clean exit it atomically replaces `target`.

    The file gets `mode` less the umask. On any exception the temporary file is
    removed and `target` is untouched.
    """
    import tempfile  # here, not at start-up: a quick read-only command never needs it

    directory = tmp_dir or target.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp, masked(mode))
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
        if durable:
            fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(target: Path, data: bytes, *, mode: int = 0o644,
                       durable: bool = True) -> None:
    with atomic_writer(target, mode=mode, durable=durable) as handle:
        handle.write(data)
