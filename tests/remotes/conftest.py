"""The conformance suite's fixtures: one harness per driver; every test runs against each."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import pytest

from muse.remote import Remote
from muse.repo import Repository
from tests.hub_prod import ReplicaHarness
from tests.hub_server import HubHarness
from tests.remotes.remote_support import Hook, commit_files, new_repo, tree_state
from tests.s3_server import s3_harness


class RemoteHarness(Protocol):
    """What the conformance suite needs of a driver, beyond the `Remote` protocol itself.

    A new driver joins the suite by implementing this and naming it in HARNESSES;
    no test changes.
    """

    url: str
    # The driver's named steps between the upload and the ref update, in order; a hook
    # given to `open` is called with each (and may raise there to inject a fault).
    fault_points: tuple[str, ...]
    # The step at which a pusher killed there still holds the driver's lock, if it has one.
    lock_held_point: str | None

    def open(self, hook: Hook | None = None) -> Remote:
        """The driver, with `hook` called at every named step."""
        ...

    def open_code(self) -> str:
        """Python source that defines `remote` (using a `hook` defined before it) in a child
        process: how the suite runs a pusher it can kill."""
        ...

    def lock_is_held(self) -> bool:
        ...

    def damage(self, content: bytes) -> None:
        """Flip one byte of the stored pack holding `content` (as a failing disk would)."""
        ...

    def state(self) -> dict[str, bytes]:
        """Every byte the remote stores, by name (for "nothing changed")."""
        ...


class FsHarness:
    """A filesystem remote in a temporary directory, made by `muse init --bare`."""

    fault_points: tuple[str, ...] = ("stored", "indexed", "locked", "swapped")
    lock_held_point: str | None = "locked"

    def __init__(self, base: Path) -> None:
        self.path = base / "remote.muse"
        Repository.init(self.path, bare=True)
        self.url = str(self.path)

    def open(self, hook: Hook | None = None) -> Remote:
        from remotes.fs import FsRemote

        return FsRemote(self.path, url=self.url, hook=hook)

    def open_code(self) -> str:
        return ("from remotes.fs import FsRemote\n"
                f"remote = FsRemote({str(self.path)!r}, hook=hook)\n")

    def lock_is_held(self) -> bool:
        return (self.path / "refs.lock").exists()

    def damage(self, content: bytes) -> None:
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
        return tree_state(self.path)


# Adding a driver to the conformance suite: write its harness above and name it here.
HARNESSES: dict[str, Callable[[Path], RemoteHarness]] = {"fs": FsHarness}


@pytest.fixture(params=[*sorted(HARNESSES), "s3", "hub", "hub-pg-s3", "hub-replicas"])
def harness(request: pytest.FixtureRequest, tmp_path: Path, muse_home: Path) -> RemoteHarness:
    base = tmp_path / f"remote-{request.param}"
    base.mkdir()
    if request.param == "s3":  # needs the session's S3 server (tests/s3_server.py)
        return s3_harness(request, base)
    if request.param.startswith("hub"):  # a fresh repository on the session's hub
        # (tests/hub_server.py): embedded, on PostgreSQL + SeaweedFS, or on two processes
        # sharing them (tests/hub_prod.py)
        hub = _hub_harness(request)
        # What `muse clone URL` and friends find, as a user's shell would hold it.
        request.getfixturevalue("monkeypatch").setenv("MUSE_TOKEN", hub.repo.write_token)
        return hub
    return HARNESSES[request.param](base)


def _hub_harness(request: pytest.FixtureRequest) -> HubHarness:
    if request.param == "hub":
        return HubHarness(request.getfixturevalue("hub_server"))
    if request.param == "hub-pg-s3":
        return HubHarness(request.getfixturevalue("hub_prod_server"))
    return ReplicaHarness(request.getfixturevalue("hub_prod_server"),
                          request.getfixturevalue("hub_prod_replica"))


@pytest.fixture
def local(tmp_path: Path, muse_home: Path) -> Repository:
    """A working repository with one commit, for the driver-specific tests."""
    repo = new_repo(tmp_path / "local")
    commit_files(repo, {"song.mid": b"MThd-verse"}, "first")
    return repo


@pytest.fixture
def remote_url(harness: RemoteHarness) -> str:
    return harness.url


@pytest.fixture
def remote(harness: RemoteHarness) -> Iterator[Remote]:
    opened = harness.open()
    yield opened
    opened.close()
