"""Presigned S3 URLs against a real S3 server (SeaweedFS): the store itself refuses other bytes.

A presigned PUT is bound to a length and a sha256, so the right body lands and a
body of another hash, another length, or after the expiry is refused; uploads in
parts are presigned part by part, resumable, completed create-only.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx
import pytest

from muse.errors import ConfigError, RemoteError, UsageError
from remotes.s3 import MiB, PresignedUpload, ProbeVerdicts, S3Bucket
from tests.s3_server import S3Server

PART = 5 * MiB  # S3's smallest part


@pytest.fixture
def s3(s3_server: S3Server, tmp_path: Path) -> S3Bucket:
    """A fresh bucket whose client signs with SigV4, as `make_client`'s does."""
    return S3Bucket(s3_server.client(signature_version="s3v4"), s3_server.new_bucket(), "hub/",
                    endpoint=s3_server.endpoint,
                    verdicts=ProbeVerdicts(tmp_path / "cache" / "probe.json"))


def stored(s3: S3Bucket, key: str) -> bytes | None:
    found = s3.get(key)
    return None if found is None else found.data


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def payload(size: int, seed: str = "bundle") -> bytes:
    block = hashlib.sha256(seed.encode()).digest()
    return (block * (size // 32 + 1))[:size]


# -- one PUT ------------------------------------------------------------------------------


def test_presigned_put_takes_exactly_the_bytes_it_was_signed_for(s3: S3Bucket) -> None:
    data = payload(3000)
    url, headers = s3.presign_put("bundles/a.bundle", len(data), sha(data), 60)
    assert "X-Amz-Signature=" in url and "x-amz-checksum-sha256" in url.lower()
    assert httpx.put(url, content=data, headers=headers).status_code == 200
    assert stored(s3, "bundles/a.bundle") == data


def test_presigned_put_refuses_a_body_with_another_hash(s3: S3Bucket) -> None:
    data = payload(3000)
    url, headers = s3.presign_put("bundles/a.bundle", len(data), sha(data), 60)
    tampered = data[:-1] + bytes([data[-1] ^ 1])  # same length, one bit off
    response = httpx.put(url, content=tampered, headers=headers)
    assert response.status_code == 400 and "BadDigest" in response.text
    assert stored(s3, "bundles/a.bundle") is None


def test_presigned_put_refuses_a_body_of_another_length(s3: S3Bucket) -> None:
    data = payload(3000)
    url, headers = s3.presign_put("bundles/a.bundle", len(data), sha(data), 60)
    for other in (data + b"!", data[:-1]):
        # Even with the checksum the longer body really has: the length is signed too.
        response = httpx.put(url, content=other, headers={
            **headers, "Content-Length": str(len(other)),
            "x-amz-checksum-sha256": headers["x-amz-checksum-sha256"]})
        assert response.status_code == 403, response.text
    assert stored(s3, "bundles/a.bundle") is None


def test_presigned_put_refuses_a_request_without_the_signed_checksum(s3: S3Bucket) -> None:
    data = payload(100)
    url, _ = s3.presign_put("bundles/a.bundle", len(data), sha(data), 60)
    assert httpx.put(url, content=data).status_code == 403
    assert stored(s3, "bundles/a.bundle") is None


def test_presigned_put_refuses_once_expired(s3: S3Bucket) -> None:
    data = payload(100)
    url, headers = s3.presign_put("bundles/a.bundle", len(data), sha(data), 1)
    time.sleep(2.2)
    response = httpx.put(url, content=data, headers=headers)
    assert response.status_code == 403 and "expired" in response.text.lower()
    assert stored(s3, "bundles/a.bundle") is None


def test_presigned_put_cannot_reach_another_key(s3: S3Bucket) -> None:
    data = payload(100)
    url, headers = s3.presign_put("bundles/a.bundle", len(data), sha(data), 60)
    moved = url.replace("/hub/bundles/a.bundle", "/hub/bundles/b.bundle")
    assert httpx.put(moved, content=data, headers=headers).status_code == 403
    assert stored(s3, "bundles/b.bundle") is None


def test_presigned_get_reads_the_object_and_ranges_of_it(s3: S3Bucket) -> None:
    data = payload(5000)
    assert s3.put_if_absent("bundles/a.bundle", data)
    url = s3.presign_get("bundles/a.bundle", 60)
    assert httpx.get(url).content == data
    ranged = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert ranged.status_code == 206 and ranged.content == data[100:200]


def test_presigned_get_refuses_once_expired(s3: S3Bucket) -> None:
    assert s3.put_if_absent("bundles/a.bundle", b"x" * 10)
    url = s3.presign_get("bundles/a.bundle", 1)
    time.sleep(2.2)
    assert httpx.get(url).status_code == 403


@pytest.mark.parametrize("size, digest, expires", [
    (-1, "0" * 64, 60), (10, "not-hex", 60), (10, "A" * 64, 60),
    (10, "0" * 64, 0), (10, "0" * 64, 7 * 24 * 3600 + 1)])
def test_presign_refuses_malformed_requests(s3: S3Bucket, size: int, digest: str,
                                            expires: int) -> None:
    with pytest.raises(UsageError):
        s3.presign_put("bundles/a.bundle", size, digest, expires)
    assert list(s3.list("")) == []


def test_presign_refuses_a_client_that_would_not_sign_the_headers(s3_server: S3Server,
                                                                  tmp_path: Path) -> None:
    sigv2 = S3Bucket(s3_server.client(signature_version="s3"), s3_server.new_bucket(), "hub/",
                     verdicts=ProbeVerdicts(tmp_path / "probe.json"))
    with pytest.raises(ConfigError, match="SigV4"):
        sigv2.presign_put("bundles/a.bundle", 3, sha(b"abc"), 60)


# -- uploads in parts ---------------------------------------------------------------------


def send(upload: PresignedUpload, data: bytes, numbers: set[int] | None = None) -> None:
    for part in upload.parts:
        if numbers is None or part.number in numbers:
            body = data[part.offset:part.offset + part.size]
            response = httpx.put(part.url, content=body)
            assert response.status_code == 200, response.text


def open_uploads(s3: S3Bucket) -> list[str]:
    found = s3.client.list_multipart_uploads(Bucket=s3.bucket)
    return [u["UploadId"] for u in found.get("Uploads", [])]


def test_multipart_presign_upload_and_complete(s3: S3Bucket) -> None:
    data = payload(2 * PART + 1234)
    upload = s3.presign_multipart("bundles/big.bundle", len(data), PART, 60)
    assert [(p.number, p.offset, p.size) for p in upload.parts] == [
        (1, 0, PART), (2, PART, PART), (3, 2 * PART, 1234)]
    assert all(p.etag is None for p in upload.parts)
    send(upload, data)
    assert s3.complete_multipart("bundles/big.bundle", upload.upload_id, size=len(data))
    assert stored(s3, "bundles/big.bundle") == data
    assert open_uploads(s3) == []


def test_multipart_presign_resumes_and_reports_the_parts_already_there(s3: S3Bucket) -> None:
    data = payload(2 * PART + 10)
    first = s3.presign_multipart("bundles/big.bundle", len(data), PART, 60)
    send(first, data, {1, 3})
    again = s3.presign_multipart("bundles/big.bundle", len(data), PART, 60)
    assert again.upload_id == first.upload_id
    expected = {1: hashlib.md5(data[:PART]).hexdigest(),
                3: hashlib.md5(data[2 * PART:]).hexdigest()}
    assert {p.number: p.etag for p in again.parts if p.etag} == expected
    send(again, data, {2})
    assert s3.complete_multipart("bundles/big.bundle", again.upload_id, size=len(data))
    assert stored(s3, "bundles/big.bundle") == data


def test_multipart_part_url_refuses_a_part_of_another_length(s3: S3Bucket) -> None:
    data = payload(PART + 10)
    upload = s3.presign_multipart("bundles/big.bundle", len(data), PART, 60)
    last = upload.parts[-1]
    assert httpx.put(last.url, content=b"y" * (last.size + 1)).status_code == 403
    assert all(p.etag is None for p in
               s3.presign_multipart("bundles/big.bundle", len(data), PART, 60).parts)


def test_multipart_complete_refuses_missing_parts_and_keeps_the_upload(s3: S3Bucket) -> None:
    data = payload(2 * PART + 10)
    upload = s3.presign_multipart("bundles/big.bundle", len(data), PART, 60)
    send(upload, data, {1, 3})
    with pytest.raises(RemoteError, match="incomplete") as refused:
        s3.complete_multipart("bundles/big.bundle", upload.upload_id, size=len(data))
    assert refused.value.code == "upload-incomplete"
    assert stored(s3, "bundles/big.bundle") is None
    assert open_uploads(s3) == [upload.upload_id]  # the parts stay for the retry
    send(upload, data, {2})
    with pytest.raises(RemoteError, match="incomplete"):  # a size that is not the parts'
        s3.complete_multipart("bundles/big.bundle", upload.upload_id, size=len(data) + 1)
    assert s3.complete_multipart("bundles/big.bundle", upload.upload_id, size=len(data))


def test_multipart_complete_never_replaces_an_existing_object(s3: S3Bucket) -> None:
    data = payload(PART + 10)
    assert s3.put_if_absent("bundles/big.bundle", b"already here")
    upload = s3.presign_multipart("bundles/big.bundle", len(data), PART, 60)
    send(upload, data)
    assert s3.complete_multipart("bundles/big.bundle", upload.upload_id) is False
    assert stored(s3, "bundles/big.bundle") == b"already here"
    assert open_uploads(s3) == []  # its parts were dropped


def test_abort_multipart_drops_the_upload(s3: S3Bucket) -> None:
    data = payload(PART + 10)
    upload = s3.presign_multipart("bundles/big.bundle", len(data), PART, 60)
    send(upload, data, {1})
    s3.abort_multipart("bundles/big.bundle", upload.upload_id)
    assert open_uploads(s3) == []
    s3.abort_multipart("bundles/big.bundle", upload.upload_id)  # twice: no error
    fresh = s3.presign_multipart("bundles/big.bundle", len(data), PART, 60)
    assert fresh.upload_id != upload.upload_id
    assert all(p.etag is None for p in fresh.parts)


@pytest.mark.parametrize("size, part_size", [(0, PART), (10, PART - 1),
                                              (10_001 * PART, PART)])
def test_multipart_presign_refuses_impossible_plans(s3: S3Bucket, size: int,
                                                    part_size: int) -> None:
    with pytest.raises(UsageError):
        s3.presign_multipart("bundles/big.bundle", size, part_size, 60)
    assert open_uploads(s3) == []
