"""A hub killed (SIGKILL) at each step of confirm leaves no ghost ref; the next push succeeds."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from muse.errors import TransientRemoteError
from muse.repo import Repository
from muse.transfer import push
from remotes.hub.cli import KILL_AT_ENV
from tests.hub.conftest import hub_remote
from tests.hub_server import HubServer, NewRepo, Storage
from tests.remotes.remote_support import MAIN, assert_no_ghost_refs, blob, commit_files

# verified: bundle read and checked; indexed / moved: inside the transaction; committed: after.
STEPS = ("verified", "indexed", "moved", "committed")


@pytest.mark.slow
@pytest.mark.parametrize("inline", [0, 1 << 30], ids=["uploaded", "inline"])
def test_a_hub_killed_at_each_step_of_confirm_leaves_no_ghost_ref(
        tmp_path: Path, seeded_local: Repository, inline: int, fresh_storage: Storage) -> None:
    storage = fresh_storage
    server = HubServer.start(storage, tmp_path)
    repo = server.new_repo()
    push(seeded_local, hub_remote(repo), [(MAIN, MAIN)])
    server.stop()
    for n, step in enumerate(STEPS):
        old = seeded_local.head()
        new = commit_files(seeded_local, {f"take-{step}.wav": blob(50 + n, 80_000)}, step)
        dying = HubServer.start(storage, tmp_path, env={KILL_AT_ENV: step})
        repo = _same_repo(repo, dying)
        with pytest.raises(TransientRemoteError):
            push(seeded_local, hub_remote(repo, inline=inline), [(MAIN, MAIN)])
        assert dying.process is not None and dying.process.wait(10) != 0
        revived = HubServer.start(storage, tmp_path)
        try:
            repo = _same_repo(repo, revived)
            remote = hub_remote(repo)
            refs = assert_no_ghost_refs(remote, tmp_path / f"probe-{step}-{inline}")
            assert refs[MAIN] == (new if step == "committed" else old), step
            started = time.monotonic()
            report = push(seeded_local, remote, [(MAIN, MAIN)])
            assert time.monotonic() - started < 5
            assert [o.status for o in report.refs] == (
                ["up-to-date"] if step == "committed" else ["fast-forward"])
            assert remote.list_refs()[MAIN] == new
        finally:
            revived.stop()


def _same_repo(repo: NewRepo, server: HubServer) -> NewRepo:
    """The repository's handle on a restarted server (a new port, the same storage)."""
    return replace(repo, url=f"{server.url}/{repo.owner}/{repo.name}")
