"""Exclusive lock files with automatic recovery from crashed holders.

A lock is a file created with O_EXCL holding `pid host time start`, where
`start` is when the kernel started that process (`owner.process_start`; `-`
where the system does not say). A lock whose holder is gone (same host) — its
PID unused, or reused by a process started at another time — or that is older
than the lease, is broken automatically, so a crash never leaves users a stale
lock to delete by hand, nor a recycled PID one to wait out.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import RefConflictError
from .owner import Owner, host_name, is_running, me

LEASE_SECONDS = 600.0
WAIT_SECONDS = 10.0


def _stale_content(lock: Path) -> str | None:
    """The lock's content if its holder is gone (or its lease ran out), else None."""
    try:
        text = lock.read_text()
        age = time.time() - lock.stat().st_mtime
    except OSError:
        # Gone (released a moment ago: the next attempt takes it) or unreadable. Never
        # "stale": breaking a lock that a new holder took meanwhile would let two in.
        return None
    parts = text.split()
    if age > LEASE_SECONDS:
        return text
    if len(parts) < 2:
        # Being written right now, or written by a holder that crashed mid-write.
        return text if age > 5.0 else None
    pid, host = parts[0], parts[1]
    if not pid.isdigit():
        return None
    start = parts[3] if len(parts) > 3 and parts[3] != "-" else None  # older locks: no start
    return text if is_running(Owner(int(pid), start, host)) is False else None


def _try_create(lock: Path) -> bool:
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    owner = me()
    with os.fdopen(fd, "w") as handle:
        handle.write(f"{owner.pid} {host_name()} {time.time():.3f} {owner.start or '-'}\n")
    return True


def _break_stale(lock: Path, judged: str) -> None:
    # Move the lock aside, then check it is the one judged dead: another process
    # may have broken it and taken a fresh lock in between. A fresh one goes back.
    grave = lock.with_name(f"{lock.name}.stale-{os.getpid()}")
    try:
        os.rename(lock, grave)
    except FileNotFoundError:
        return
    try:
        if grave.read_text() != judged:
            with contextlib.suppress(FileExistsError):
                os.link(grave, lock)
    finally:
        with contextlib.suppress(FileNotFoundError):
            grave.unlink()


@contextlib.contextmanager
def locked(lock: Path, *, what: str, wait: float = WAIT_SECONDS) -> Iterator[None]:
    """Hold `lock` for the duration of the block, waiting up to `wait` seconds for it."""
    deadline = time.monotonic() + wait
    delay = 0.002
    while not _try_create(lock):
        judged = _stale_content(lock)
        if judged is not None:
            _break_stale(lock, judged)
            continue
        if time.monotonic() > deadline:
            raise RefConflictError(
                f"{what} is locked by another Muse process ({lock})",
                hint="wait for the other command to finish, then retry",
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
