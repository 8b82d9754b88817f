"""The conformance suite's fixtures: one harness per driver; every test runs against each."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from muse.remote import Remote
from muse.repo import Repository
from tests.remotes.remote_support import Hook, commit_files, new_repo, tree_state

# Adding a driver to the conformance suite: write its harness below and name it here.
DRIVERS = ["fs"]


class FsHarness:
    """A filesystem remote in a temporary directory, made by `muse init --bare`."""

    # Where a fault may strike between the upload and the ref update (remotes/fs.py).
    fault_points = ("received", "locked", "checked", "written")
    # A point at which a killed pusher still holds the remote's lock.
    lock_held_point = "locked"

    def __init__(self, base: Path) -> None:
        self.path = base / "remote.muse"
        Repository.init(self.path, bare=True)
        self.url = str(self.path)

    def open(self, hook: Hook | None = None) -> Remote:
        from remotes.fs import FsRemote

        return FsRemote(self.path, url=self.url, hook=hook)

    def open_code(self) -> str:
        """Python source that defines `remote` (using a `hook` defined before it) in a child."""
        return ("from remotes.fs import FsRemote\n"
                f"remote = FsRemote({str(self.path)!r}, hook=hook)\n")

    def lock_is_held(self) -> bool:
        return (self.path / "refs.lock").exists()

    def damage(self, content: bytes) -> None:
        """Flip one byte of the stored object holding `content` (as a failing disk would)."""
        sample = content[:64]
        for pack in (self.path / "packs").glob("*.bundle"):
            data = pack.read_bytes()
            at = data.find(sample)
            if at >= 0:
                os.chmod(pack, 0o644)
                pack.write_bytes(data[:at] + bytes([data[at] ^ 1]) + data[at + 1:])
                return
        raise AssertionError("no pack holds that content")

    def state(self) -> dict[str, bytes]:
        """Every byte the remote stores (for "nothing changed")."""
        return tree_state(self.path)


HARNESSES = {"fs": FsHarness}


@pytest.fixture(params=DRIVERS)
def harness(request: pytest.FixtureRequest, tmp_path: Path, muse_home: Path) -> FsHarness:
    base = tmp_path / f"remote-{request.param}"
    base.mkdir()
    return HARNESSES[request.param](base)


@pytest.fixture
def local(tmp_path: Path, muse_home: Path) -> Repository:
    """A working repository with one commit, for the driver-specific tests."""
    repo = new_repo(tmp_path / "local")
    commit_files(repo, {"song.mid": b"MThd-verse"}, "first")
    return repo


@pytest.fixture
def remote_url(harness: FsHarness) -> str:
    return harness.url


@pytest.fixture
def remote(harness: FsHarness) -> Iterator[Remote]:
    opened = harness.open()
    yield opened
    opened.close()
