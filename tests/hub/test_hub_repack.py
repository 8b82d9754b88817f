"""Server-side repacking on the real hub: one pack per clone, online, crash-safe, one at a time."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import httpx
import pytest

from muse.errors import ConflictError
from muse.fsck import verify_repository
from muse.repo import Repository
from muse.transfer import clone, fetch, push
from remotes.hub.repack import Repacker, RepackReport
from remotes.hub.service import Hub
from remotes.hub.sql_index import Repo
from remotes.hub.takedown import purge, restore, take_down
from tests.hub.conftest import CountingTransport, hub_remote
from tests.hub_server import HubServer, NewRepo
from tests.remotes.remote_support import MAIN, assert_no_ghost_refs, blob, commit_files


def push_takes(local: Repository, repo: NewRepo, n: int, *, start: int = 0,
               size: int = 3000) -> None:
    """`n` pushes of one new stem each: `n` packs on the hub."""
    for i in range(start, start + n):
        commit_files(local, {f"takes/{i}.wav": blob(1000 + i, size)}, f"take {i}")
        push(local, hub_remote(repo), [(MAIN, MAIN)])


def indexed(server: HubServer, repo: NewRepo) -> tuple[Hub, Repo]:
    hub = server.admin()
    found = hub.index.repo(repo.owner, repo.name)
    assert found is not None
    return hub, found


def clone_counting(repo: NewRepo, dest: Path) -> tuple[Repository, int]:
    """A clone, and how many packs it downloaded (every GET but the refs)."""
    counting = CountingTransport()
    copy = clone(repo.url, dest, remote=hub_remote(repo, token=repo.read_token,
                                                   transport=counting))
    seen = counting.take()
    return copy, sum(n for what, n in seen.items() if what.startswith("GET ")
                     and what != "GET refs")


def files_at(repo: Repository) -> dict[str, bytes]:
    assert repo.root is not None
    return {str(p.relative_to(repo.root)): p.read_bytes()
            for p in sorted(repo.root.rglob("*")) if p.is_file() and ".muse" not in p.parts}


def test_a_full_repack_makes_a_clone_download_one_pack_with_the_same_bytes(
        tmp_path: Path, hub_server: HubServer, hub_repo: NewRepo,
        seeded_local: Repository) -> None:
    push(seeded_local, hub_remote(hub_repo), [(MAIN, MAIN)])
    push_takes(seeded_local, hub_repo, 5)
    before, downloads = clone_counting(hub_repo, tmp_path / "before")
    assert downloads == 6
    hub, repo = indexed(hub_server, hub_repo)
    refs = hub.index.refs(repo)

    report = Repacker(hub).repack(repo)

    assert (report.packs_before, report.packs_after, report.folded_packs) == (6, 1, 6)
    assert report.kept_replaced == 6 and report.dropped_packs == 0  # in their grace period
    assert hub.index.refs(repo) == refs
    after, downloads = clone_counting(hub_repo, tmp_path / "after")
    assert downloads == 1
    assert after.head() == before.head() == seeded_local.head()
    assert files_at(after) == files_at(before) == files_at(seeded_local)
    assert not verify_repository(after).problems
    assert_no_ghost_refs(hub_remote(hub_repo), tmp_path / "probe")
    # An old clone fetches what is pushed after the repack; a second repack folds it in.
    push_takes(seeded_local, hub_repo, 1, start=10)
    fetch(before, hub_remote(hub_repo, token=hub_repo.read_token), "origin")
    assert before.store.has(seeded_local.head())
    assert Repacker(hub).repack(repo).packs_after == 1
    _, downloads = clone_counting(hub_repo, tmp_path / "again")
    assert downloads == 1


def test_a_geometric_repack_leaves_the_big_pack_untouched(
        hub_server: HubServer, hub_repo: NewRepo, seeded_local: Repository) -> None:
    commit_files(seeded_local, {"stems/big.wav": blob(7, 300_000)}, "big")
    push(seeded_local, hub_remote(hub_repo), [(MAIN, MAIN)])
    hub, repo = indexed(hub_server, hub_repo)
    (big,) = hub.index.pack_rows(repo)
    push_takes(seeded_local, hub_repo, 4)

    report = Repacker(hub).repack(repo, geometric=True)

    assert report.folded_packs == 4 and report.packs_after == 2
    assert big in hub.index.pack_rows(repo)
    assert Repacker(hub).repack(repo, geometric=True).skipped == \
        "the packs are geometric already"
    assert_no_ghost_refs(hub_remote(hub_repo), hub_server.log.parent / f"g-{repo.id}")


@pytest.mark.parametrize("step", ["copied", "swapping"])
def test_a_push_racing_a_repack_lands_and_loses_nothing(
        tmp_path: Path, hub_server: HubServer, hub_repo: NewRepo,
        seeded_local: Repository, step: str) -> None:
    push_takes(seeded_local, hub_repo, 3)
    hub, repo = indexed(hub_server, hub_repo)
    racing: list[threading.Thread] = []

    def push_now(at: str) -> None:
        if at == step:
            # Inside the swap's transaction the push waits for it: it runs beside it.
            racing.append(threading.Thread(target=push_takes,
                                           args=(seeded_local, hub_repo, 1), kwargs={
                                               "start": 20}))
            racing[0].start()
            if step == "copied":
                racing[0].join()

    report = Repacker(hub, hook=push_now).repack(repo)
    racing[0].join(30)
    assert report.folded_packs == 3
    assert hub_remote(hub_repo).list_refs()[MAIN] == seeded_local.head()
    assert len(hub.index.pack_rows(repo)) == 2  # the racing push's pack stays as it was
    copy, _ = clone_counting(hub_repo, tmp_path / "copy")
    assert files_at(copy) == files_at(seeded_local)
    assert not verify_repository(copy).problems


def test_a_fetch_that_chose_the_old_packs_still_downloads_them_until_the_grace_ends(
        hub_server: HubServer, hub_repo: NewRepo, seeded_local: Repository) -> None:
    push_takes(seeded_local, hub_repo, 3)
    auth = {"Authorization": f"Bearer {hub_repo.read_token}"}
    chosen = httpx.post(f"{hub_repo.api}/fetch", headers=auth,
                        json={"wants": [seeded_local.head()], "haves": []}).json()["bundles"]
    assert len(chosen) == 3
    hub, repo = indexed(hub_server, hub_repo)
    Repacker(hub).repack(repo)
    for pack in chosen:  # the answer given before the repack still works
        got = httpx.get(pack["url"], headers=auth)
        assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == pack["id"]

    later = Repacker(hub, clock=lambda: time.time() + 7200).repack(repo)  # past the grace

    assert later.dropped_packs == 3 and later.kept_replaced == 0
    assert hub.index.replaced_packs(repo) == {}
    for pack in chosen:
        assert httpx.get(pack["url"], headers=auth).status_code in (403, 404)
    assert_no_ghost_refs(hub_remote(hub_repo), hub_server.log.parent / f"p-{repo.id}")


def test_two_repacks_at_once_one_runs_and_the_other_is_refused(
        hub_server: HubServer, hub_repo: NewRepo, seeded_local: Repository) -> None:
    push_takes(seeded_local, hub_repo, 3)
    hub, repo = indexed(hub_server, hub_repo)
    refused: list[ConflictError] = []
    other = Repacker(hub_server.admin())  # another replica: its own connections

    def meanwhile(step: str) -> None:
        if step == "copied":
            with pytest.raises(ConflictError) as busy:
                other.repack(repo)
            refused.append(busy.value)

    report = Repacker(hub, hook=meanwhile).repack(repo)
    assert report.folded_packs == 3 and refused[0].code == "repack-busy"
    assert refused[0].exit_code == 4 and "being repacked already" in refused[0].message
    assert other.repack(repo).skipped == "nothing to fold"  # the lease was released
    assert hub_remote(hub_repo).list_refs()[MAIN] == seeded_local.head()


def test_a_lease_left_by_a_killed_repack_is_taken_over_or_lapses(
        hub_server: HubServer, hub_repo: NewRepo, seeded_local: Repository) -> None:
    import socket
    import subprocess
    import sys

    push_takes(seeded_local, hub_repo, 2)
    hub, repo = indexed(hub_server, hub_repo)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    hub.index.take_lease(repo, f"{socket.gethostname()}:{gone.pid}:dead", time.time(), 3600)
    assert Repacker(hub).repack(repo).folded_packs == 2  # its process is gone: taken over

    push_takes(seeded_local, hub_repo, 1, start=30)
    hub.index.take_lease(repo, "elsewhere:1:x", time.time(), 3600)  # another host's
    with pytest.raises(ConflictError):
        Repacker(hub).repack(repo)
    late = Repacker(hub, clock=lambda: time.time() + 3601).repack(repo)
    assert late.folded_packs == 2


def test_hidden_packs_are_never_folded_and_stay_hidden(
        tmp_path: Path, hub_server: HubServer, hub_repo: NewRepo,
        seeded_local: Repository) -> None:
    secret = blob(99, 4000)
    commit_files(seeded_local, {"leak.wav": secret}, "leak")
    push(seeded_local, hub_remote(hub_repo), [(MAIN, MAIN)])
    push_takes(seeded_local, hub_repo, 3)
    hub, repo = indexed(hub_server, hub_repo)
    oid = hashlib.sha256(secret).hexdigest()
    take_down(hub, repo, [oid], notice=f"n-{repo.id}", claimant="label", noticed="today",
              text="not theirs")
    (hidden,) = hub.guard.hidden_packs(repo)

    report = Repacker(hub).repack(repo)

    assert report.kept_hidden == 1 and report.folded_packs == 3
    assert hidden in hub.index.pack_rows(repo)
    assert set(hub.guard.hidden_packs(repo)) == {hidden}  # the new pack carries none of it
    with pytest.raises(Exception, match="taken down"):
        clone(hub_repo.url, tmp_path / "refused", remote=hub_remote(hub_repo))
    restore(hub, f"n-{repo.id}")
    assert Repacker(hub).repack(repo).packs_after == 1
    copy, downloads = clone_counting(hub_repo, tmp_path / "copy")
    assert downloads == 1 and (copy.root / "leak.wav").read_bytes() == secret


def test_a_fold_whose_bytes_carry_hidden_content_is_skipped(
        hub_server: HubServer, hub_repo: NewRepo, seeded_local: Repository) -> None:
    push_takes(seeded_local, hub_repo, 2)
    hub, repo = indexed(hub_server, hub_repo)
    blocked = blob(1000, 3000)  # take 0's stem: its row is in the first pack
    hub.guard.rows.block(hashlib.sha256(blocked).hexdigest(), "test", "admin")
    try:
        report = Repacker(hub).repack(repo)
        assert report.folded_into is None and report.kept_hidden == 1
        assert len(hub.index.pack_rows(repo)) == 2
    finally:
        hub.guard.rows.unblock(hashlib.sha256(blocked).hexdigest())


def test_a_repack_report_reads_as_one_line() -> None:
    done = RepackReport("ada/song", packs_before=3, packs_after=1, folded_into="ab" * 32,
                        folded_packs=3)
    assert done.line().startswith("ada/song: folded 3 packs into abababababab (3 → 1 pack)")


def test_a_takedown_after_a_repack_hides_and_purges_the_replaced_packs_too(
        hub_server: HubServer, hub_repo: NewRepo, seeded_local: Repository) -> None:
    push_takes(seeded_local, hub_repo, 3)
    hub, repo = indexed(hub_server, hub_repo)
    old = sorted(hub.index.pack_rows(repo))
    Repacker(hub).repack(repo)
    auth = {"Authorization": f"Bearer {hub_repo.read_token}"}
    assert httpx.get(f"{hub_repo.api}/packs/{old[0]}", headers=auth).status_code == 200
    oid = hashlib.sha256(blob(1001, 3000)).hexdigest()  # take 1's stem
    notice = f"t-{repo.id}"
    take_down(hub, repo, [oid], notice=notice, claimant="label", noticed="today", text="x")

    assert set(hub.guard.hidden_packs(repo)) >= set(old)  # every pack that carried it
    for pack_id in old:
        assert httpx.get(f"{hub_repo.api}/packs/{pack_id}", headers=auth).status_code == 451
    purge(hub, notice)
    assert hub.index.replaced_packs(repo) == {}
    assert not any(hub.blobs.exists(p) for p in old)
