"""Lock files name their holder by PID, start time and host, so a recycled PID is not a holder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from muse.errors import RefConflictError
from muse.lockfile import locked
from muse.owner import Owner, host_name, is_running, me, process_start

needs_proc = pytest.mark.skipif(process_start(os.getpid()) is None,
                                reason="this system does not report process start times")


@pytest.fixture
def stranger() -> Iterator[int]:
    """A live process that is not Muse (what a recycled PID in a stale lock points at)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield child.pid
    finally:
        child.kill()
        child.wait()


def _lock_text(pid: int, start: str | None) -> str:
    return f"{pid} {host_name()} {time.time():.3f} {start or '-'}\n"


def test_a_lock_records_pid_host_and_start_time(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    with locked(lock, what="x"):
        pid, host, _when, start = lock.read_text().split()
    assert (int(pid), host) == (os.getpid(), host_name())
    assert start == (me().start or "-")


@needs_proc
def test_a_live_pid_started_at_another_time_is_a_stale_lock(tmp_path: Path,
                                                             stranger: int) -> None:
    lock = tmp_path / "x.lock"
    real = process_start(stranger)
    assert real is not None
    lock.write_text(_lock_text(stranger, str(int(real) + 1)))  # the PID of a later process
    began = time.monotonic()
    with locked(lock, what="x", wait=5):
        assert lock.read_text().split()[0] == str(os.getpid())
    assert time.monotonic() - began < 2  # broken at once, not waited out
    assert not lock.exists()


@needs_proc
def test_a_live_holder_with_its_own_start_time_is_respected(tmp_path: Path,
                                                            stranger: int) -> None:
    lock = tmp_path / "x.lock"
    text = _lock_text(stranger, process_start(stranger))
    lock.write_text(text)
    with pytest.raises(RefConflictError, match="locked by another Muse process"), \
            locked(lock, what="x", wait=0.2):
        pass
    assert lock.read_text() == text  # not ours to remove


def test_an_older_lock_without_a_start_time_still_counts_its_live_pid(
        tmp_path: Path, stranger: int) -> None:
    lock = tmp_path / "x.lock"
    lock.write_text(f"{stranger} {host_name()} {time.time():.3f}\n")
    with pytest.raises(RefConflictError), locked(lock, what="x", wait=0.2):
        pass
    assert lock.exists()


@pytest.mark.parametrize("pid", [0, -1, 2**40])
def test_pids_that_cannot_be_a_holder(pid: int) -> None:
    # 0 and -1 would signal a whole process group; neither they nor a huge PID are a holder.
    assert is_running(Owner(pid, None, host_name())) in (None, False)
    assert is_running(Owner(os.getpid(), None, "another-host")) is None


def test_a_lock_released_while_a_waiter_looks_at_it_is_never_held_twice(tmp_path: Path) -> None:
    # A waiter that found the lock gone used to "break" it as stale: if another holder
    # had taken it meanwhile, that moved the new holder's lock aside and let two in
    # (or put it back after its holder had left, so nobody could take it for 10 s).
    import threading

    lock = tmp_path / "ref.lock"
    inside: list[int] = []
    overlaps: list[int] = []
    errors: list[BaseException] = []

    def hammer(me_: int) -> None:
        try:
            for _ in range(1500):
                with locked(lock, what="ref", wait=5):
                    inside.append(me_)
                    if len(inside) > 1:
                        overlaps.append(len(inside))
                    inside.remove(me_)
        except BaseException as exc:  # a lock left behind shows as a timeout here
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads trade places inside the lock code, as processes do
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switching)
    assert not errors and not overlaps
    assert not lock.exists()
