"""Pushing to the real hub: request counts, inline and uploaded bundles, lost replies, bad bytes."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import httpx
import pytest

from muse.errors import BundleError, MuseError, TransientRemoteError
from muse.refs import RefUpdate
from muse.remote import Remote
from muse.remote_wrappers import RetryingRemote
from muse.repo import Repository
from muse.transfer import PushReport, push
from remotes.hub.blobs import bundle_key
from tests.hub.conftest import CountingTransport, hub_remote
from tests.hub_server import HubServer, NewRepo
from tests.remotes.remote_support import (
    MAIN,
    assert_no_ghost_refs,
    blob,
    commit_files,
    new_repo,
    outgoing,
    write_push_bundle,
)


def push_main(repo: Repository, remote: Remote) -> PushReport:
    return push(repo, remote, [(MAIN, MAIN)])


def test_request_counts_fresh_small_and_nothing_new(tmp_path: Path, hub_repo: NewRepo,
                                                     muse_home: Path) -> None:
    local = new_repo(tmp_path / "big")
    commit_files(local, {f"stems/{i}.wav": blob(i, 40_000) for i in range(200)}, "many")
    counting = CountingTransport()
    remote = hub_remote(hub_repo, inline=0, transport=counting)
    push_main(local, remote)
    fresh = counting.take()
    # The refs read, one presign, one PUT of the whole bundle, one confirm.
    assert fresh == {"GET refs": 1, "POST presign": 1, "PUT upload": 1, "POST confirm": 1}

    commit_files(local, {"notes.txt": b"bridge\n"}, "small")
    small_remote = hub_remote(hub_repo, transport=counting)  # the hub's inline threshold
    push_main(local, small_remote)
    assert counting.take() == {"GET refs": 1, "POST confirm": 1}

    push_main(local, small_remote)
    assert counting.take() == {"GET refs": 1}


def test_request_count_does_not_grow_with_objects(tmp_path: Path, hub_repo: NewRepo,
                                                   muse_home: Path) -> None:
    counts = []
    for n in (10, 1000):
        local = new_repo(tmp_path / f"n{n}")
        commit_files(local, {f"f/{i}.bin": blob(n + i, 64) for i in range(n)}, f"{n}")
        counting = CountingTransport()
        push(local, hub_remote(hub_repo, inline=0, transport=counting),
             [(MAIN, f"refs/heads/b{n}")])
        counts.append(sum(counting.counts.values()))
    assert counts == [4, 4]


def test_a_resent_push_after_a_lost_reply_succeeds(tmp_path: Path, hub_repo: NewRepo,
                                                   seeded_local: Repository) -> None:
    class LosesFirstConfirmReply(httpx.HTTPTransport):
        lost = False

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = super().handle_request(request)
            if request.url.path.endswith("/confirm") and not self.lost:
                response.read()
                self.lost = True  # the hub did the work; the client never hears of it
                raise httpx.ReadError("connection reset", request=request)
            return response

    transport = LosesFirstConfirmReply()
    remote = RetryingRemote(hub_remote(hub_repo, inline=0, transport=transport),
                            attempts=3, sleep=lambda s: None)
    push_main(seeded_local, remote)
    assert transport.lost
    assert hub_remote(hub_repo).list_refs()[MAIN] == seeded_local.head()


def test_inline_and_uploaded_pushes_clone_back_identically(tmp_path: Path,
                                                           hub_server: HubServer,
                                                           seeded_local: Repository) -> None:
    heads = []
    for inline in (1 << 30, 0):
        repo = hub_server.new_repo()
        push_main(seeded_local, hub_remote(repo, inline=inline))
        remote = hub_remote(repo, token=repo.read_token)
        heads.append(remote.list_refs()[MAIN])
        assert_no_ghost_refs(remote, tmp_path / f"probe-{inline}")  # every id re-hashed
    assert heads == [seeded_local.head()] * 2


def _repo_state(server: HubServer, repo: NewRepo) -> tuple[object, ...]:
    hub = server.admin()
    found = hub.index.repo(repo.owner, repo.name)
    assert found is not None
    return (hub.index.refs(found), hub.index.pack_rows(found),
            sorted(hub.index.commit_graph(found)))


def test_a_tampered_upload_is_refused_by_checksum_and_nothing_changes(
        tmp_path: Path, hub_server: HubServer, hub_repo: NewRepo,
        seeded_local: Repository) -> None:
    head = seeded_local.head()
    assert head is not None
    bundle = write_push_bundle(seeded_local, tmp_path / "b.bundle", head, None)
    auth = {"Authorization": f"Bearer {hub_repo.write_token}"}
    target = httpx.post(f"{hub_repo.api}/push/bundle/presign", headers=auth,
                        json={"bundle_id": bundle.sha256, "size_bytes": bundle.size}).json()
    data = bundle.path.read_bytes()
    before = _repo_state(hub_server, hub_repo)

    flipped = data[:-10] + bytes([data[-10] ^ 1]) + data[-9:]
    if "/api/v1/uploads/" in target["url"]:  # the hub's own upload endpoint
        answer = httpx.put(target["url"], content=flipped)
        assert answer.status_code == 422
        assert answer.json()["error"]["code"] == "checksum-mismatch"
        longer = httpx.put(target["url"], content=data + b"x")
        assert longer.status_code in (400, 413)
        forged = target["url"].rsplit(".", 1)[0] + "." + "0" * 64
        assert httpx.put(forged, content=data).status_code == 401
    else:  # a presigned S3 PUT: the store itself refuses (tests/remotes/test_s3_presign.py)
        signed = {k: v for k, v in target["headers"].items() if k.lower() != "content-length"}
        answer = httpx.put(target["url"], content=flipped, headers=signed)
        assert answer.status_code == 400 and "BadDigest" in answer.text
        assert httpx.put(target["url"], content=data + b"x", headers=signed).status_code == 403
        forged = target["url"].replace(bundle.sha256, "0" * 64)
        assert httpx.put(forged, content=data, headers=signed).status_code == 403
    confirm = httpx.post(f"{hub_repo.api}/push/bundle/confirm", headers=auth,
                         json={"bundle_id": bundle.sha256,
                               "updates": [{"name": MAIN, "old": None, "new": head}]})
    assert confirm.status_code == 404 and confirm.json()["error"]["code"] == "remote-missing"
    assert _repo_state(hub_server, hub_repo) == before
    assert not hub_server.admin().blobs.exists(bundle.sha256)


def test_a_bundle_that_fails_verification_is_refused_with_422(
        tmp_path: Path, hub_server: HubServer, hub_repo: NewRepo,
        seeded_local: Repository) -> None:
    head = seeded_local.head()
    assert head is not None
    bundle = write_push_bundle(seeded_local, tmp_path / "b.bundle", head, None)
    data = bytearray(bundle.path.read_bytes())
    data[len(data) // 2] ^= 1  # inside an object: its hash no longer matches
    bad = tmp_path / "bad.bundle"
    bad.write_bytes(bytes(data))
    before = _repo_state(hub_server, hub_repo)
    meta = (b'{"bundle_id": "%s", "updates": [{"name": "%s", "old": null, "new": "%s"}]}'
            % (hashlib.sha256(data).hexdigest().encode(), MAIN.encode(), head.encode()))
    answer = httpx.post(f"{hub_repo.api}/push/bundle/confirm",
                        headers={"Authorization": f"Bearer {hub_repo.write_token}",
                                 "Content-Type": "application/vnd.muse.push+bundle"},
                        content=struct.pack(">I", len(meta)) + meta + bytes(data))
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] in ("bad-bundle", "corrupt-object")
    assert _repo_state(hub_server, hub_repo) == before

    remote = hub_remote(hub_repo, inline=1 << 30)
    with pytest.raises(BundleError):
        remote.push(outgoing(bad), [RefUpdate(MAIN, None, head)])
    assert _repo_state(hub_server, hub_repo) == before


@pytest.mark.parametrize("body", [b"", b"\x00\x00", b"\xff\xff\xff\xff{}",
                                  b"\x00\x00\x00\x05nope!", b"\x00\x00\x00\x02{}"])
def test_a_malformed_inline_envelope_is_a_clear_400(hub_server: HubServer, hub_repo: NewRepo,
                                                    body: bytes) -> None:
    before = _repo_state(hub_server, hub_repo)
    answer = httpx.post(f"{hub_repo.api}/push/bundle/confirm", content=body,
                        headers={"Authorization": f"Bearer {hub_repo.write_token}",
                                 "Content-Type": "application/vnd.muse.push+bundle"})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "usage"
    assert _repo_state(hub_server, hub_repo) == before


def test_an_unreachable_hub_is_a_transient_error(tmp_path: Path) -> None:
    from muse.remote import RemoteOptions
    from remotes.hub_client import HubRemote
    from tests.hub_server import free_port

    remote = HubRemote(f"http://127.0.0.1:{free_port()}/a/b", RemoteOptions(timeout=2))
    with pytest.raises(TransientRemoteError, match="cannot reach"):
        remote.list_refs()


def test_errors_carry_the_hub_code(hub_repo: NewRepo) -> None:
    with pytest.raises(MuseError) as caught:
        hub_remote(hub_repo, token="muse_not-a-real-token").list_refs()
    assert caught.value.code == "remote-auth" and caught.value.exit_code == 6


def test_an_upload_whose_bytes_are_not_its_name_is_dropped_at_confirm(
        tmp_path: Path, hub_server: HubServer, hub_repo: NewRepo,
        seeded_local: Repository) -> None:
    # A bundle no other test can have pushed to this shared hub (the same unsigned files
    # committed in the same second are the same bundle, and its key is create-only).
    head = commit_files(seeded_local, {"unique.txt": str(tmp_path).encode()}, "this test's")
    bundle = write_push_bundle(seeded_local, tmp_path / "b.bundle", head, None)
    other = tmp_path / "other.bundle"
    other.write_bytes(bundle.path.read_bytes()[:-1] + b"\0")
    hub = hub_server.admin()
    # As a store that never checked the upload would hold it (no checksum on the way in).
    hub.blobs.put_key(bundle_key(bundle.sha256), other)
    auth = {"Authorization": f"Bearer {hub_repo.write_token}"}
    confirm = httpx.post(f"{hub_repo.api}/push/bundle/confirm", headers=auth,
                         json={"bundle_id": bundle.sha256,
                               "updates": [{"name": MAIN, "old": None, "new": head}]})
    assert confirm.status_code == 422
    assert not hub.blobs.exists(bundle.sha256)  # so the real bundle can be uploaded again
    push_main(seeded_local, hub_remote(hub_repo, inline=0))
    assert hub_remote(hub_repo).list_refs()[MAIN] == head
