"""The sweep of the hub's blob store: bundles left by killed pushes and repacks go after the grace.

Every test runs on a fresh deployment, embedded (SQLite + a folder) and
production (PostgreSQL + SeaweedFS): a sweep takes every unnamed bundle of the
store it is given, so it never runs on the session's shared hubs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path

import pytest

from muse.errors import RemoteError, TransientRemoteError
from muse.fsck import verify_repository
from muse.refs import RefUpdate
from muse.repo import Repository
from muse.transfer import push
from remotes.hub.blobs import DirBlobs
from remotes.hub.cli import KILL_AT_ENV
from remotes.hub.repack import Repacker
from remotes.hub.service import Hub
from remotes.hub.sql_index import PACK_VANISHED, Repo
from remotes.hub.sweep import SWEEP_FLOOR_SECONDS, SweepReport, sweep_blobs
from remotes.hub.tokens import issue_token
from tests.hub.conftest import hub_remote
from tests.hub.test_hub_crash import _same_repo
from tests.hub.test_hub_repack import clone_counting, files_at, indexed, push_takes
from tests.hub.test_hub_repack_ops import repack_cli, run_repack
from tests.hub_server import HubServer, Storage
from tests.remotes.remote_support import (
    MAIN,
    assert_no_ghost_refs,
    blob,
    commit_files,
    write_push_bundle,
)
from tests.testkit import MuseRunner

DAY = float(SWEEP_FLOOR_SECONDS)


def later(seconds: float) -> float:
    return time.time() + seconds


def unnamed(hub: Hub) -> set[str]:
    """The bundles of the store that no repository's row names."""
    stored = {b.pack_id for b in hub.blobs.list_bundles()}
    return stored - hub.index.named_packs(stored)


def everything(hub: Hub, repo: Repo) -> tuple[object, ...]:
    """The repository's rows, and whether the blob store holds every pack they name."""
    packs = hub.index.pack_rows(repo, replaced=True)
    return (hub.index.refs(repo), sorted(packs.items()),
            sorted(hub.index.commit_graph(repo).items()),
            sorted(hub.index.replaced_packs(repo)), all(hub.blobs.exists(p) for p in packs))


@pytest.mark.slow
def test_bundles_left_by_a_killed_push_and_a_killed_repack_go_after_the_grace_only(
        tmp_path: Path, fresh_storage: Storage, seeded_local: Repository) -> None:
    server = HubServer.start(fresh_storage, tmp_path)
    repo = server.new_repo()
    push_takes(seeded_local, repo, 2)
    served = seeded_local.head()
    server.stop()
    # A push killed inside its transaction: its upload is stored, nothing names it.
    commit_files(seeded_local, {"takes/killed.wav": blob(77, 40_000)}, "killed push")
    dying = HubServer.start(fresh_storage, tmp_path, env={KILL_AT_ENV: "indexed"})
    with pytest.raises(TransientRemoteError):
        push(seeded_local, hub_remote(_same_repo(repo, dying), inline=0), [(MAIN, MAIN)])
    assert dying.process is not None and dying.process.wait(10) != 0
    server = HubServer.start(fresh_storage, tmp_path)
    repo = _same_repo(repo, server)
    try:
        # A repack killed once its folded pack is stored, before the swap names it.
        assert run_repack(fresh_storage, f"{repo.owner}/{repo.name}", kill_at="stored") == -9
        hub, found = indexed(server, repo)
        orphans = unnamed(hub)
        assert len(orphans) == 2
        before = everything(hub, found)

        for when, prune in ((0, None), (DAY - 3600, "now")):  # in the grace, whatever --prune
            kept = sweep_blobs(hub, prune=prune, clock=partial(later, when))
            assert kept.swept_packs == 0 and kept.kept_unnamed == 2 and kept.named == 2
            assert unnamed(hub) == orphans
        assert sweep_blobs(hub, prune="never", clock=lambda: later(2 * DAY)).cutoff is None
        assert unnamed(hub) == orphans

        swept = sweep_blobs(hub, clock=lambda: later(DAY + 3600))

        assert set(swept.swept) == orphans and swept.swept_packs == 2 and swept.named == 2
        assert swept.swept_bytes > 40_000  # the killed push's stem went with its bundle
        assert not any(hub.blobs.exists(p) for p in orphans)
        assert everything(hub, found) == before  # the live packs and every row as they were
        refs = assert_no_ghost_refs(hub_remote(repo), tmp_path / "probe")
        assert refs[MAIN] == served
        assert sweep_blobs(hub, clock=lambda: later(2 * DAY)).swept_packs == 0

        # The killed push goes again, uploading again; a repack then folds all of it.
        push(seeded_local, hub_remote(repo, inline=0), [(MAIN, MAIN)])
        assert Repacker(hub).repack(found).packs_after == 1
        # Replaced packs in their grace period are named: a sweep leaves them to the drop.
        replaced = set(hub.index.replaced_packs(found))
        assert len(replaced) == 3
        assert sweep_blobs(hub, clock=lambda: later(2 * DAY)).swept_packs == 0
        assert all(hub.blobs.exists(p) for p in replaced)
        copy, downloads = clone_counting(repo, tmp_path / "copy")
        assert downloads == 1 and files_at(copy) == files_at(seeded_local)
        assert not verify_repository(copy).problems
    finally:
        server.stop()


def test_the_repack_after_a_killed_one_names_the_pack_it_left(
        tmp_path: Path, fresh_storage: Storage, seeded_local: Repository) -> None:
    server = HubServer.start(fresh_storage, tmp_path)
    try:
        repo = server.new_repo()
        push_takes(seeded_local, repo, 3)
        assert run_repack(fresh_storage, f"{repo.owner}/{repo.name}", kill_at="stored") == -9
        hub, _ = indexed(server, repo)
        (left,) = unnamed(hub)

        # The same packs fold into the same bytes; the sweep after it finds nothing unnamed.
        done = subprocess.run([sys.executable, "-m", "muse", "hub", "repack", "--all-repos",
                               "--json", *fresh_storage.args()], capture_output=True,
                              env={**os.environ, **fresh_storage.env}, timeout=60)

        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["repos"][0]["folded_into"] == left
        assert report["sweep"]["swept"] == [] and report["sweep"]["kept_unnamed"] == 0
        assert report["sweep"]["named"] == 4 and unnamed(hub) == set()
        assert sweep_blobs(hub, clock=lambda: later(2 * DAY)).swept_packs == 0
        copy, downloads = clone_counting(repo, tmp_path / "copy")
        assert downloads == 1 and files_at(copy) == files_at(seeded_local)
    finally:
        server.stop()


# -- a sweep racing the writers that name bundles ---------------------------------------


def _repo_with_token(hub: Hub) -> tuple[Repo, str]:
    hub.index.add_user("ada")
    repo = hub.index.create_repo("ada", "song", public=False)
    _, token = issue_token(hub.index, "ada", repo, "write")
    return repo, token


def _stored_bundle(hub: Hub, local: Repository, work: Path) -> tuple[str, str]:
    """A bundle of `local`'s head put in the store as an upload is, not yet confirmed."""
    bundle = write_push_bundle(local, work / "push.bundle", local.head(), None)
    hub.blobs.put(bundle.sha256, bundle.path)
    return bundle.sha256, local.head()


def test_a_sweep_deleting_a_bundle_a_confirm_verified_makes_it_fail_cleanly(
        tmp_path: Path, fresh_storage: Storage, seeded_local: Repository) -> None:
    hub = fresh_storage.open()
    repo, token = _repo_with_token(hub)
    bundle_id, head = _stored_bundle(hub, seeded_local, tmp_path)
    swept: list[list[str]] = []

    def sweep_now(step: str) -> None:
        # An old unnamed bundle a push reuses ("exists" at presign): the grace does not
        # protect it, the key lock does.
        if step == "verified":
            swept.append(sweep_blobs(fresh_storage.open(), clock=lambda: later(2 * DAY)).swept)

    hub.hook = sweep_now
    with pytest.raises(RemoteError) as refused:
        hub.confirm(repo, hub.grant(f"Bearer {token}"), [RefUpdate(MAIN, None, head)],
                    bundle_id=bundle_id)

    assert swept == [[bundle_id]]
    assert refused.value.code == "remote-missing" and "push again" in (refused.value.hint or "")
    assert "nothing was changed" in refused.value.message
    assert hub.index.refs(repo) == {} and hub.index.pack_rows(repo, replaced=True) == {}
    assert hub.index.commit_graph(repo) == {}
    # Pushed again, uploaded again: it lands.
    _stored_bundle(hub, seeded_local, tmp_path)
    hub.hook = lambda step: None
    answer = hub.confirm(repo, hub.grant(f"Bearer {token}"), [RefUpdate(MAIN, None, head)],
                         bundle_id=bundle_id)
    assert answer["results"][0]["ok"] and hub.index.refs(repo) == {MAIN: head}


def test_a_sweep_waits_for_a_confirm_naming_the_bundle_and_then_keeps_it(
        tmp_path: Path, fresh_storage: Storage, seeded_local: Repository) -> None:
    hub = fresh_storage.open()
    repo, token = _repo_with_token(hub)
    bundle_id, head = _stored_bundle(hub, seeded_local, tmp_path)
    reports: list[SweepReport] = []
    sweeper: list[threading.Thread] = []
    other = fresh_storage.open()  # another replica's connections

    def sweep_meanwhile(step: str) -> None:
        # Inside the confirm's transaction, after its row is in (uncommitted): the sweep
        # reads no row, but must wait for the pack's lock before it may delete anything.
        if step == "indexed":
            sweeper.append(threading.Thread(target=lambda: reports.append(
                sweep_blobs(other, clock=lambda: later(2 * DAY)))))
            sweeper[0].start()
            sweeper[0].join(1.5)
            assert sweeper[0].is_alive(), "the sweep did not wait for the confirm"

    hub.hook = sweep_meanwhile
    answer = hub.confirm(repo, hub.grant(f"Bearer {token}"), [RefUpdate(MAIN, None, head)],
                         bundle_id=bundle_id)
    sweeper[0].join(30)

    assert answer["results"][0]["ok"]
    (report,) = reports
    assert report.swept_packs == 0 and report.kept_unnamed == 1
    assert hub.blobs.exists(bundle_id) and hub.index.refs(repo) == {MAIN: head}
    assert bundle_id in hub.index.pack_rows(repo)


def test_a_repack_whose_stored_pack_a_sweep_took_changes_nothing(
        tmp_path: Path, fresh_storage: Storage, seeded_local: Repository) -> None:
    server = HubServer.start(fresh_storage, tmp_path)
    try:
        repo = server.new_repo()
        push_takes(seeded_local, repo, 3)
        hub, found = indexed(server, repo)
        before = everything(hub, found)
        swept: list[list[str]] = []

        def sweep_now(step: str) -> None:
            if step == "stored":
                swept.append(sweep_blobs(fresh_storage.open(),
                                         clock=lambda: later(2 * DAY)).swept)

        report = Repacker(hub, hook=sweep_now).repack(found)

        assert report.skipped == PACK_VANISHED and report.folded_into is None
        assert len(swept[0]) == 1 and not hub.blobs.exists(swept[0][0])
        assert everything(hub, found) == before and unnamed(hub) == set()
        assert Repacker(hub).repack(found).packs_after == 1  # the next one stores it again
        assert_no_ghost_refs(hub_remote(repo), tmp_path / "probe")
    finally:
        server.stop()


# -- from the command line ----------------------------------------------------------------


def _plant(hub: Hub, work: Path, seed: int, *, age: float) -> str:
    """A bundle file no row names, written `age` seconds ago (a killed push's leftover)."""
    import hashlib

    data = blob(seed, 5000)
    path = work / f"planted-{seed}"
    path.write_bytes(data)
    pack_id = hashlib.sha256(data).hexdigest()
    hub.blobs.put(pack_id, path)
    assert isinstance(hub.blobs, DirBlobs)
    stored = hub.blobs.root / "bundles" / f"{pack_id}.bundle"
    os.utime(stored, (time.time() - age, time.time() - age))
    return pack_id


def test_sweeping_from_the_command_line_and_its_report(
        tmp_path: Path, muse: MuseRunner, seeded_local: Repository) -> None:
    data = tmp_path / "hub"
    server = HubServer.start(Storage(data=data), tmp_path)
    try:
        repo = server.new_repo()
        push_takes(seeded_local, repo, 2)
        hub, found = indexed(server, repo)
        name = f"{repo.owner}/{repo.name}"
        old = _plant(hub, tmp_path, 1, age=DAY + 600)
        young = _plant(hub, tmp_path, 2, age=DAY - 600)

        for args in ((name,), ("--all-repos", "--no-sweep"), (name, "--sweep", "--prune",
                                                               "never")):
            code, out, _ = repack_cli(muse, data, *args, "--json")
            assert code == 0 and unnamed(hub) == {old, young}, args
            sweep = json.loads(out)["sweep"]
            assert sweep is None or (sweep["cutoff"] is None and sweep["swept"] == []), args
        code, _, err = repack_cli(muse, data, "--all-repos", "--prune", "soon")
        assert code == 2 and "cannot read the expiry" in err and unnamed(hub) == {old, young}

        code, out, _ = repack_cli(muse, data, "--all-repos", "--json")

        assert code == 0
        report = json.loads(out)
        assert report["sweep"]["swept"] == [old] and report["sweep"]["swept_packs"] == 1
        assert report["sweep"]["kept_unnamed"] == 1 and report["sweep"]["named"] >= 1
        assert [r["repo"] for r in report["repos"]] == [name]
        assert unnamed(hub) == {young} and not hub.blobs.exists(old)
        (entry,) = [e for e in hub.guard.rows.audit() if e.action == "sweep"]
        assert entry.detail["swept"] == [old]

        again = _plant(hub, tmp_path, 3, age=2 * DAY)
        code, out, _ = repack_cli(muse, data, name, "--sweep")
        assert code == 0 and f"swept {again}" in out and "swept 1 bundles no row names" in out
        assert hub.index.refs(found)[MAIN] == seeded_local.head()
    finally:
        server.stop()
