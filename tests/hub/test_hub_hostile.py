"""A malicious-bundle corpus and a fuzzer, pushed through the hub's real HTTP path.

Every crafted bundle is refused with its documented status and code, quarantined
where the rule says, and the repository is unchanged; random damage to a real
bundle never gets a 5xx and never grows the hub's memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from muse.objects import Commit, Snapshot, SnapshotEntry
from muse.repo import Repository
from tests.bundle_craft import Crafted, object_frames, plain_commit, seal, valid_parts
from tests.bundle_craft import frame as raw_frame
from tests.bundle_craft import header as raw_header
from tests.hub.security_support import admin, error_of, inline_push, state
from tests.hub_server import HubServer, NewRepo
from tests.remotes.remote_support import write_push_bundle

BLOCKED = b"a file nobody may push\n"


def _valid() -> tuple[bytes, str]:
    blob, snap, commit = valid_parts()
    return Crafted([blob], [snap], [commit.encode()], {"refs/heads/main": commit.id}).build(), \
        commit.id


def _hash_mismatch() -> bytes:
    blob, snap, commit = valid_parts()
    from muse.frames import KIND_HEADER

    body = raw_frame(KIND_HEADER, raw_header(refs={"refs/heads/main": commit.id}, objects=1,
                                             object_bytes=len(blob), snapshots=1, commits=1))
    body += object_frames(b"jello\n", oid=hashlib.sha256(blob).hexdigest())
    from muse.frames import KIND_COMMIT, KIND_SNAPSHOT

    return seal(body + raw_frame(KIND_SNAPSHOT, snap) + raw_frame(KIND_COMMIT, commit.encode()))


def _forged_signature(signed: Commit) -> Callable[[], bytes]:
    def build() -> bytes:
        from dataclasses import replace

        blob, snap, _ = valid_parts()
        forged = replace(signed, snapshot=hashlib.sha256(snap).hexdigest(), parents=(),
                         message="not what was signed")
        return Crafted([blob], [snap], [forged.encode()], {"refs/heads/main": forged.id}).build()
    return build


def _blob_as_parent() -> bytes:
    blob, snap, _ = valid_parts()
    commit = plain_commit(hashlib.sha256(snap).hexdigest(),
                          parents=(hashlib.sha256(blob).hexdigest(),))
    return Crafted([blob], [snap], [commit.encode()], {"refs/heads/main": commit.id}).build()


def _huge_declared_length() -> bytes:
    blob, snap, commit = valid_parts()
    from muse.frames import KIND_COMMIT, KIND_HEADER, KIND_SNAPSHOT

    body = raw_frame(KIND_HEADER, raw_header(refs={"refs/heads/main": commit.id}, objects=1,
                                             object_bytes=len(blob), snapshots=1, commits=1))
    body += object_frames(blob, size=1 << 60)  # the object frame alone lies
    return seal(body + raw_frame(KIND_SNAPSHOT, snap) + raw_frame(KIND_COMMIT, commit.encode()))


def _header_claiming(object_bytes: int) -> bytes:
    blob, snap, commit = valid_parts()
    return Crafted([blob], [snap], [commit.encode()], {"refs/heads/main": commit.id},
                   header_overrides={"object_bytes": object_bytes}).build()


def _counts_beyond_size() -> bytes:
    blob, snap, commit = valid_parts()
    return Crafted([blob], [snap], [commit.encode()], {"refs/heads/main": commit.id},
                   header_overrides={"objects": 10**9}).build()


def _duplicate_ids() -> bytes:
    blob, snap, commit = valid_parts()
    return Crafted([blob, blob], [snap], [commit.encode()], {"refs/heads/main": commit.id}).build()


def _blocked() -> bytes:
    snap = Snapshot.from_entries([SnapshotEntry("bad.bin", hashlib.sha256(BLOCKED).hexdigest(),
                                                len(BLOCKED))])
    commit = plain_commit(snap.id)
    return Crafted([BLOCKED], [snap.encode()], [commit.encode()],
                   {"refs/heads/main": commit.id}).build()


def _dotdot_path() -> bytes:
    from tests.bundle_craft import with_snapshot_rows

    blob = b"hello\n"
    return with_snapshot_rows([("../escape.txt", bytes.fromhex(hashlib.sha256(blob).hexdigest()),
                                len(blob), False)])


# name → (build, HTTP status, error codes accepted, quarantined?)
CORPUS: dict[str, tuple[Callable[[], bytes], int, set[str], bool]] = {
    "hash-mismatch": (_hash_mismatch, 422, {"bad-bundle"}, True),
    "blob-as-parent": (_blob_as_parent, 422, {"not-a-commit", "bad-bundle"}, True),
    "huge-declared-length": (_huge_declared_length, 413, {"object-too-large"}, False),
    "counts-beyond-size": (_counts_beyond_size, 422, {"bad-bundle"}, True),
    "header-beyond-upload": (lambda: _header_claiming(1 << 40), 422, {"bad-bundle"}, True),
    "truncated": (lambda: _valid()[0][:-30], 422, {"bad-bundle"}, True),
    "trailing-bytes": (lambda: _valid()[0] + b"\0extra", 422, {"bad-bundle"}, True),
    "duplicate-ids": (_duplicate_ids, 422, {"bad-bundle"}, True),
    "blocked-id": (_blocked, 451, {"blocked"}, False),
    "dotdot-path": (_dotdot_path, 422, {"bad-bundle", "corrupt-object"}, True),
}


@pytest.fixture
def hostile_repo(hub_server: HubServer) -> NewRepo:
    repo = hub_server.new_repo()
    _, found, rows = admin(hub_server, repo)
    rows.set_repo_rule(found, "signatures", "any")  # crafted commits are unsigned
    rows.set_repo_rule(found, "max_object_bytes", 10 << 20)
    return repo


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_each_malicious_bundle_is_refused_and_changes_nothing(hub_server: HubServer,
                                                              hostile_repo: NewRepo,
                                                              case: str) -> None:
    build, status, codes, quarantined = CORPUS[case]
    _, found, rows = admin(hub_server, hostile_repo)
    rows.block(hashlib.sha256(BLOCKED).hexdigest(), "corpus", "test")
    before, kept = state(hub_server, hostile_repo), len(rows.quarantined())
    answer = inline_push(hostile_repo, build())
    error = error_of(answer)
    assert answer.status_code == status and error["code"] in codes, (case, error)
    assert state(hub_server, hostile_repo) == before
    mine = [q for q in rows.quarantined() if q.repo_id == found.id]
    assert (len(mine) == 1) == quarantined and len(rows.quarantined()) == kept + quarantined
    assert bool(error.get("quarantine_id")) == quarantined


def test_a_forged_signature_is_refused(tmp_path: Path, hub_server: HubServer,
                                       hub_repo: NewRepo, seeded_local: Repository) -> None:
    head = seeded_local.head()
    assert head is not None
    signed = seeded_local.graph.commit(head)
    before = state(hub_server, hub_repo)
    answer = inline_push(hub_repo, _forged_signature(signed)())
    assert answer.status_code == 422 and error_of(answer)["code"] == "bad-signature"
    assert state(hub_server, hub_repo) == before


def test_the_corpus_is_refused_through_presign_and_put_too(hub_server: HubServer,
                                                           hostile_repo: NewRepo) -> None:
    import httpx

    data = _hash_mismatch()
    bundle_id = hashlib.sha256(data).hexdigest()
    auth = {"Authorization": f"Bearer {hostile_repo.write_token}"}
    target = httpx.post(f"{hostile_repo.api}/push/bundle/presign", headers=auth,
                        json={"bundle_id": bundle_id, "size_bytes": len(data)}).json()
    stored = httpx.put(target["url"], content=data, headers=target.get("headers") or {})
    assert stored.status_code in (200, 201)  # the hub's endpoint, or a presigned bucket URL
    before = state(hub_server, hostile_repo)
    answer = httpx.post(f"{hostile_repo.api}/push/bundle/confirm", headers=auth,
                        json={"bundle_id": bundle_id,
                              "updates": [{"name": "refs/heads/main", "old": None,
                                           "new": "0" * 64}]})
    error = error_of(answer)
    assert answer.status_code == 422 and error["quarantine_id"]
    assert state(hub_server, hostile_repo) == before
    hub, _, rows = admin(hub_server, hostile_repo)
    record = rows.quarantined_one(error["quarantine_id"])
    assert record is not None and record.blob_key is not None
    with hub.blobs.open_key(record.blob_key) as kept:
        assert kept.read() == data  # a copy in quarantine; no index row names the upload
    assert not hub.index.pack_known(bundle_id)


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@pytest.mark.slow
def test_fuzzed_bundles_never_get_a_5xx_and_memory_stays_bounded(
        tmp_path: Path, hub_server: HubServer, hostile_repo: NewRepo,
        seeded_local: Repository) -> None:
    head = seeded_local.head()
    assert head is not None and hub_server.process is not None
    valid = write_push_bundle(seeded_local, tmp_path / "v.bundle", head, None).path.read_bytes()
    start = _rss_kb(hub_server.process.pid)

    @given(cuts=st.lists(st.tuples(st.integers(0, len(valid) - 1), st.binary(max_size=8)),
                         min_size=1, max_size=4),
           tail=st.integers(0, len(valid)))
    @settings(max_examples=60, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(cuts: list[tuple[int, bytes]], tail: int) -> None:
        data = bytearray(valid[:tail] if tail > 64 else valid)
        for at, junk in cuts:
            data[at % len(data):at % len(data) + len(junk)] = junk
        answer = inline_push(hostile_repo, bytes(data), head)
        assert answer.status_code in (200, 400, 413, 422, 451), answer.text
        assert "Traceback" not in answer.text

    fuzz()
    assert _rss_kb(hub_server.process.pid) - start < 60_000  # KB: no allocation ran away


def test_counts_that_cannot_fit_are_refused_before_any_object_is_read() -> None:
    import io

    from muse.bundle import BundleReader
    from muse.errors import BundleError

    data = _counts_beyond_size()
    with pytest.raises(BundleError, match="at least"):
        BundleReader(io.BytesIO(data), size=len(data)).read_header()
    valid, _ = _valid()
    assert BundleReader(io.BytesIO(valid), size=len(valid)).read_header().objects == 1
