"""The repack lease renewed while a repack works, and a repack that lost it stopping cleanly.

Time is an injected clock (the lease's expiries are the clock's seconds); the
index, the blob store and the hub are real, on both deployments.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

import pytest

from muse.errors import ConflictError
from muse.repo import Repository
from remotes.hub.blobs import BlobStore
from remotes.hub.repack import LEASE_SECONDS, Lease, Repacker
from remotes.hub.service import Hub
from remotes.hub.sql_index import Repo
from tests.hub.conftest import hub_remote
from tests.hub.test_hub_repack import clone_counting, files_at, indexed, push_takes
from tests.hub_server import HubServer, NewRepo
from tests.remotes.remote_support import MAIN, assert_no_ghost_refs

RIVAL = "elsewhere:1:rival"


class Clock:
    """Seconds that pass only when a test says so."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def rival_takes(hub: Hub, repo: Repo, clock: Clock) -> str | None:
    """Another replica's attempt at the lease now: None when it got it, else who holds it."""
    return hub.index.take_lease(repo, RIVAL, clock(), LEASE_SECONDS)


def test_a_lease_is_renewed_once_a_quarter_of_it_has_passed(
        hub_server: HubServer, hub_repo: NewRepo) -> None:
    hub, repo = indexed(hub_server, hub_repo)
    clock = Clock()
    start = clock.now
    lease = Lease(hub, repo, "here:1:me", clock, LEASE_SECONDS)
    lease.take()

    clock.now = start + 0.25 * LEASE_SECONDS - 10
    lease.tick(1 << 20)  # too soon: no request
    clock.now = start + LEASE_SECONDS
    assert rival_takes(hub, repo, clock) is None  # so it lapsed, and was taken
    with pytest.raises(ConflictError) as lost:
        lease.keep()
    assert lost.value.code == "repack-busy" and lost.value.exit_code == 4
    assert RIVAL in lost.value.message and "nothing half done" in lost.value.message
    lease.release()  # releases only its own: the rival's stays
    assert hub.index.take_lease(repo, "third:1:x", clock(), LEASE_SECONDS) == RIVAL
    hub.index.release_lease(repo, RIVAL)

    clock.now = start
    lease.take()
    clock.now = start + 0.25 * LEASE_SECONDS
    lease.tick(1 << 20)  # a quarter in: renewed to a full term from now
    clock.now = start + LEASE_SECONDS + 60
    assert rival_takes(hub, repo, clock) == "here:1:me"
    lease.keep()
    lease.release()


def test_a_repack_longer_than_its_lease_keeps_it_at_every_step(
        tmp_path: Path, hub_server: HubServer, hub_repo: NewRepo,
        seeded_local: Repository) -> None:
    push_takes(seeded_local, hub_repo, 3)
    hub, repo = indexed(hub_server, hub_repo)
    clock = Clock()
    refused: list[str | None] = []

    def slow_step(step: str) -> None:
        if step != "swapping":  # inside the swap's transaction another replica would wait
            clock.now += 0.8 * LEASE_SECONDS
            refused.append(rival_takes(hub, repo, clock))

    report = Repacker(hub, hook=slow_step, clock=clock).repack(repo)

    assert report.folded_packs == 3 and len(refused) == 5
    assert all(r is not None and r != RIVAL for r in refused)  # never lapsed, never taken
    assert rival_takes(hub, repo, clock) is None  # released at the end
    hub.index.release_lease(repo, RIVAL)
    copy, downloads = clone_counting(hub_repo, tmp_path / "copy")
    assert downloads == 1 and files_at(copy) == files_at(seeded_local)


class _SlowReads:
    """The hub's blob store, but each read of a pack takes a fifth of the lease (a huge pack
    on a slow disk), and another replica tries to take the lease at every one."""

    def __init__(self, inner: BlobStore, clock: Clock, attempt: Any) -> None:
        self._inner = inner
        self._clock = clock
        self._attempt = attempt
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @contextlib.contextmanager
    def open(self, bundle_id: str) -> Iterator[BinaryIO]:
        with self._inner.open(bundle_id) as stream:
            yield cast(BinaryIO, _Slow(stream, self))


class _Slow:
    def __init__(self, stream: BinaryIO, store: _SlowReads) -> None:
        self._stream = stream
        self._store = store

    def read(self, n: int = -1) -> bytes:
        self._store.reads += 1
        self._store._clock.now += 0.2 * LEASE_SECONDS
        self._store._attempt()
        return self._stream.read(n)


def test_a_repack_renews_its_lease_while_a_pack_streams(
        hub_server: HubServer, hub_repo: NewRepo, seeded_local: Repository) -> None:
    push_takes(seeded_local, hub_repo, 2, size=60_000)
    admin, repo = indexed(hub_server, hub_repo)
    clock = Clock()
    taken: list[str | None] = []
    slow = _SlowReads(admin.blobs, clock, lambda: taken.append(rival_takes(admin, repo, clock)))
    hub = Hub(admin.index, cast(BlobStore, slow), admin.limits)

    report = Repacker(hub, clock=clock).repack(repo)

    assert report.folded_packs == 2
    assert slow.reads > 10  # many lease terms passed inside the copy loop
    assert None not in taken  # the rival never found it lapsed
    hub.index.release_lease(repo, RIVAL)


@pytest.mark.parametrize("step", ["locked", "copied", "stored", "swapped"])
def test_a_repack_that_lost_its_lease_stops_and_leaves_nothing_half_done(
        tmp_path: Path, hub_server: HubServer, hub_repo: NewRepo,
        seeded_local: Repository, step: str) -> None:
    push_takes(seeded_local, hub_repo, 3)
    hub, repo = indexed(hub_server, hub_repo)
    clock = Clock()
    packs = hub.index.pack_rows(repo)
    stored = {b.pack_id for b in hub.blobs.list_bundles()}

    def stall(at: str) -> None:
        if at == step:  # stalled past its lease here; another replica takes the repository
            clock.now += LEASE_SECONDS + 1
            assert rival_takes(hub, repo, clock) is None

    with pytest.raises(ConflictError) as lost:
        Repacker(hub, hook=stall, clock=clock).repack(repo)

    assert lost.value.code == "repack-busy" and RIVAL in lost.value.message
    assert hub.index.take_lease(repo, "third:1:x", clock(), LEASE_SECONDS) == RIVAL
    if step == "swapped":  # the fold was whole before the lease went: it stays
        assert len(hub.index.pack_rows(repo)) == 1
        assert set(hub.index.replaced_packs(repo)) == set(packs)
    else:  # nothing of the fold is left: no row, and no stored pack
        assert hub.index.pack_rows(repo) == packs and hub.index.replaced_packs(repo) == {}
        assert {b.pack_id for b in hub.blobs.list_bundles()} == stored
    assert hub_remote(hub_repo).list_refs()[MAIN] == seeded_local.head()
    assert_no_ghost_refs(hub_remote(hub_repo), tmp_path / "probe")
    hub.index.release_lease(repo, RIVAL)
    assert Repacker(hub).repack(repo).packs_after == 1
