"""Who made a lock or a work file (PID, process start time, host), and whether it still runs."""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass


def process_start(pid: int) -> str | None:
    """When the kernel started `pid` (clock ticks since boot, from /proc), or None if unknown.

    A PID is reused once its process has gone; the start time tells the two apart.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and ')': the fields after it follow the last ')'.
    fields = data[data.rfind(b")") + 2:].split()
    return fields[19].decode("ascii", "replace") if len(fields) > 19 else None  # field 22


def host_name() -> str:
    # os.uname's node name is what gethostname() returns, without importing socket
    # (start-up time: every command may sweep work files, which asks for it).
    uname = getattr(os, "uname", None)
    if uname is not None:
        return str(uname().nodename)
    import socket

    return socket.gethostname()


@functools.cache
def _tag_of(host: str) -> str:
    return hashlib.sha256(host.encode()).hexdigest()[:8]


def host_tag() -> str:
    """A short, file-name-safe stand-in for the host name."""
    return _tag_of(host_name())


@dataclass(frozen=True)
class Owner:
    """A process: its PID, start time (None where the system does not tell) and host."""

    pid: int
    start: str | None
    host: str


def me() -> Owner:
    pid = os.getpid()
    return Owner(pid, _start_of(pid), host_name())


@functools.cache
def _start_of(pid: int) -> str | None:
    # Keyed by PID: a forked child asks again. A process's own start time never changes.
    return process_start(pid)


def is_running(owner: Owner, *, host: str | None = None) -> bool | None:
    """True if `owner` still runs, False if it is gone, None if this host cannot tell.

    `host` is what this machine calls itself in `owner.host` (default: its name).
    """
    if owner.host != (host or host_name()) or owner.pid <= 0:
        return None  # another machine's process, or a PID that would signal a group
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, but another user's
    except OverflowError:
        return False  # no process can have that PID
    if owner.start is not None:
        now = process_start(owner.pid)
        if now is not None and now != owner.start:
            return False  # the PID now belongs to a later process
    return True
