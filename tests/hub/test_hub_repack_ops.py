"""`muse hub repack` as an operator runs it, killed at each step, and the hub's automatic repack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from muse.fsck import verify_repository
from muse.repo import Repository
from remotes.hub.cli import KILL_AT_ENV
from remotes.hub.repack import STEPS
from tests.hub.conftest import hub_remote
from tests.hub.test_hub_repack import clone_counting, files_at, indexed, push_takes
from tests.hub_server import HubServer, Storage
from tests.remotes.remote_support import MAIN, assert_no_ghost_refs
from tests.testkit import MuseRunner


def run_repack(storage: Storage, *args: str, kill_at: str | None = None) -> int:
    env = {**os.environ, **storage.env}
    if kill_at is not None:
        env[KILL_AT_ENV] = kill_at
    done = subprocess.run([sys.executable, "-m", "muse", "hub", "repack", *args,
                           *storage.args()], env=env, capture_output=True, timeout=60)
    return done.returncode


@pytest.mark.slow
def test_a_repack_killed_at_each_step_leaves_a_hub_that_serves_every_ref(
        tmp_path: Path, fresh_storage: Storage, seeded_local: Repository) -> None:
    server = HubServer.start(fresh_storage, tmp_path)
    try:
        repo = server.new_repo()
        push_takes(seeded_local, repo, 2)
        for n, step in enumerate(STEPS):
            push_takes(seeded_local, repo, 1, start=40 + n)  # always something to fold
            assert run_repack(fresh_storage, f"{repo.owner}/{repo.name}",
                              kill_at=step) == -9, step
            refs = assert_no_ghost_refs(hub_remote(repo), tmp_path / f"probe-{step}")
            assert refs[MAIN] == seeded_local.head(), step
        # The dead repack's lease is taken over; the next one folds everything.
        assert run_repack(fresh_storage, f"{repo.owner}/{repo.name}") == 0
        hub, found = indexed(server, repo)
        assert len(hub.index.pack_rows(found)) == 1
        copy, downloads = clone_counting(repo, tmp_path / "copy")
        assert downloads == 1 and files_at(copy) == files_at(seeded_local)
        assert not verify_repository(copy).problems
    finally:
        server.stop()


def test_the_hub_repacks_in_the_background_after_pushes(
        tmp_path: Path, seeded_local: Repository) -> None:
    server = HubServer.start(Storage(data=tmp_path / "hub"), tmp_path,
                             extra=["--auto-repack-packs", "3"])
    try:
        repo = server.new_repo()
        push_takes(seeded_local, repo, 8)
        hub, found = indexed(server, repo)
        deadline = time.monotonic() + 20
        while len(hub.index.pack_rows(found)) > 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(hub.index.pack_rows(found)) <= 4
        assert hub.index.replaced_packs(found)  # folded, still served in their grace period
        copy, downloads = clone_counting(repo, tmp_path / "copy")
        assert downloads <= 4 and files_at(copy) == files_at(seeded_local)
        assert not verify_repository(copy).problems
    finally:
        server.stop()


def repack_cli(muse: MuseRunner, data: Path, *args: str) -> tuple[int, str, str]:
    done = muse("hub", "repack", *args, "--data", str(data), cwd=data.parent)
    return done.exit_code, done.stdout, done.stderr


def test_repack_from_the_command_line_and_its_mistakes(
        tmp_path: Path, muse: MuseRunner, seeded_local: Repository) -> None:
    data = tmp_path / "hub"
    server = HubServer.start(Storage(data=data), tmp_path)
    try:
        repo = server.new_repo()
        push_takes(seeded_local, repo, 3)
        hub, found = indexed(server, repo)
        name = f"{repo.owner}/{repo.name}"
        before = hub.index.pack_rows(found)
        cases = [
            ((f"{repo.owner}/nothing",), 2, "no repository"),
            ((), 2, "name one repository, or pass --all-repos"),
            ((name, "--all-repos"), 2, "name one repository, or pass --all-repos"),
            ((name, "--prune", "soon"), 2, "cannot read the expiry"),
            ((name, "--bogus"), 2, "error: no such option: --bogus"),
            (("bad name",), 2, "invalid repository name"),
        ]
        for args, code, message in cases:
            exit_code, _, err = repack_cli(muse, data, *args)
            assert exit_code == code and message in err, (args, err)
            assert "Traceback" not in err
        hub.index.take_lease(found, "elsewhere:1:x", time.time(), 600)
        exit_code, _, err = repack_cli(muse, data, name)
        assert exit_code == 4 and "being repacked already" in err
        assert hub.index.pack_rows(found) == before  # nothing changed
        hub.index.release_lease(found, "elsewhere:1:x")

        exit_code, out, _ = repack_cli(muse, data, name, "--geometric", "--json")
        (report,) = json.loads(out)["repos"]
        assert exit_code == 0 and report["repo"] == name and report["packs_after"] < 3
        exit_code, out, _ = repack_cli(muse, data, "--all-repos", "--json")
        reports = json.loads(out)["repos"]
        assert exit_code == 0 and any(r["repo"] == name and r["packs_after"] == 1
                                      for r in reports)
        exit_code, out, _ = repack_cli(muse, data, name, "--prune", "now")
        assert exit_code == 0 and name in out
        assert [e.action for e in hub.guard.rows.audit(repo=name)].count("repack") >= 2
    finally:
        server.stop()
