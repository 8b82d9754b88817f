"""Temporary work files: names that say who made them, and sweeping what killed commands left.

A work file in the working tree is named `.muse-tmp-HOST-PID-START-RANDOM`:
the prefix is reserved (no snapshot may hold it, see `paths.validate_path`),
so the scanner never records one, and the owner in the name tells a file
being written by a live command from one a killed command left behind.

`sweep` cleans a scratch folder (`.muse/tmp`, a filesystem remote's `tmp/`):
an entry named by `tmp_name` goes as soon as its owner is gone; any other
entry goes once nothing in it has changed for STALE_AFTER seconds, an age no
live command stays silent for (a writer touches its file with every chunk).
"""

from __future__ import annotations

import os
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from .owner import Owner, host_tag, is_running, me
from .paths import WORK_FILE_PREFIX

STALE_AFTER = 6 * 3600.0
# HOST (8 hex) - PID - START (clock ticks, or x) - anything random
_OURS = re.compile(r"\.muse-tmp-([0-9a-f]{8})-([0-9]{1,10})-([0-9]{1,20}|x)-[\w.-]{1,64}",
                   re.ASCII)


def work_prefix() -> str:
    """The start of a work-file name owned by this process, for `tempfile.mkstemp(prefix=…)`."""
    owner = me()
    return f"{WORK_FILE_PREFIX}{host_tag()}-{owner.pid}-{owner.start or 'x'}-"


def tmp_name() -> str:
    """A fresh work-file name (under 80 bytes, so any folder can hold it) owned by this process."""
    return work_prefix() + os.urandom(8).hex()


def owner_of(name: str) -> Owner | None:
    """The process a `tmp_name` names; None for any other name."""
    found = _OURS.fullmatch(name)
    if found is None:
        return None
    tag, pid, start = found.groups()
    return Owner(int(pid), None if start == "x" else start, tag)


def _last_change(path: Path, st: os.stat_result) -> float:
    """The newest mtime at or under `path` (a folder's own mtime misses writes inside files)."""
    newest = st.st_mtime
    if stat.S_ISDIR(st.st_mode):
        for dirpath, _dirs, files in os.walk(path):
            for name in files:
                try:
                    newest = max(newest, os.lstat(os.path.join(dirpath, name)).st_mtime)
                except OSError:
                    continue
    return newest


def is_stale(path: Path, st: os.stat_result, *, now: float | None = None) -> bool:
    """Whether the work entry at `path` (lstat `st`) was left by a command that is gone."""
    owner = owner_of(path.name)
    if owner is not None:
        running = is_running(owner, host=host_tag())
        if running is not None:
            return not running
    clock = time.time() if now is None else now
    if clock - st.st_mtime <= STALE_AFTER:
        return False
    return clock - _last_change(path, st) > STALE_AFTER


@dataclass(frozen=True)
class Leftovers:
    """What a scratch folder holds: every entry, and the stale ones a sweep removes."""

    entries: int = 0
    size: int = 0
    stale_entries: int = 0
    stale_size: int = 0


def _size(path: Path, st: os.stat_result) -> int:
    if not stat.S_ISDIR(st.st_mode):
        return st.st_size
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
    return total


def _entries(directory: Path) -> list[tuple[Path, os.stat_result]]:
    try:
        with os.scandir(directory) as found:
            listed = [Path(entry.path) for entry in found]
    except (FileNotFoundError, NotADirectoryError):
        return []
    result = []
    for path in listed:
        try:
            result.append((path, os.lstat(path)))
        except FileNotFoundError:
            continue  # its owner finished with it meanwhile
    return result


def survey(directory: Path, *, now: float | None = None) -> Leftovers:
    """Count (without removing) what `directory` holds and how much of it is stale."""
    entries = size = stale_entries = stale_size = 0
    for path, st in _entries(directory):
        bytes_ = _size(path, st)
        entries += 1
        size += bytes_
        if is_stale(path, st, now=now):
            stale_entries += 1
            stale_size += bytes_
    return Leftovers(entries, size, stale_entries, stale_size)


def remove_entry(path: Path, st: os.stat_result) -> None:
    """Remove a file or a folder tree without following symbolic links; gone already is fine."""
    try:
        if stat.S_ISDIR(st.st_mode):
            import shutil  # only when there is a folder to remove: not at start-up

            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()
    except OSError:
        pass  # another sweep took it, or it cannot be removed: never fail a command over it


def sweep(directory: Path, *, now: float | None = None) -> int:
    """Remove the stale entries of a scratch folder; return how many went. Cheap when empty."""
    removed = 0
    for path, st in _entries(directory):
        if is_stale(path, st, now=now):
            remove_entry(path, st)
            removed += 1
    return removed
