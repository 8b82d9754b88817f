"""File modes: stored data is read-only and as readable as the umask allows (shared remotes)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.testkit import MuseRunner


def _muse_with_umask(muse: MuseRunner, umask: int, *args: str, cwd: Path) -> None:
    # The umask is read once per process, so each setting needs its own process.
    code = f"import os, sys; os.umask({umask:#o}); from muse.cli import main; sys.exit(main())"
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=muse.env(),
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()


def _modes(root: Path, pattern: str) -> set[int]:
    found = {stat.S_IMODE(p.stat().st_mode) for p in root.glob(pattern) if p.is_file()}
    assert found, f"nothing matches {pattern} under {root}"
    return found


@pytest.mark.parametrize(("umask", "stored", "written"),
                         [(0o022, 0o444, 0o644), (0o077, 0o400, 0o600)])
def test_stored_files_are_read_only_and_follow_the_umask(
        tmp_path: Path, muse: MuseRunner, umask: int, stored: int, written: int) -> None:
    work, remote, copy = tmp_path / "work", tmp_path / "remote.muse", tmp_path / "copy"
    work.mkdir()
    (work / "drums.wav").write_bytes(os.urandom(5000))
    for args in (("init",), ("commit", "-m", "take"), ("init", "--bare", str(remote)),
                 ("push", str(remote), "main")):
        _muse_with_umask(muse, umask, *args, cwd=work)
    _muse_with_umask(muse, umask, "clone", str(remote), str(copy), cwd=tmp_path)

    assert _modes(work / ".muse", "objects/*/*") == {stored}
    assert _modes(remote, "packs/*") == {stored}  # the pack and its index
    assert _modes(copy / ".muse", "packs/*") == {stored}
    assert _modes(remote, "refs.json") == {written}
    assert _modes(work / ".muse", "refs/heads/*") == {written}
    assert _modes(copy, "drums.wav") == {written}  # checked out as a plain open() would
