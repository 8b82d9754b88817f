"""The hub's two blob stores (a folder, an S3 bucket) answer alike, missing bundles included."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from remotes.hub.blobs import DirBlobs
from remotes.hub.s3_blobs import S3Blobs
from remotes.s3 import ProbeVerdicts, S3Bucket
from tests.s3_server import S3Server


@pytest.fixture(params=["dir", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "dir":
        yield DirBlobs(tmp_path / "store")
        return
    server: S3Server = request.getfixturevalue("s3_server")
    bucket = S3Bucket(server.client(), server.new_bucket(), "hub/", endpoint=server.endpoint,
                      verdicts=ProbeVerdicts(tmp_path / "probe.json"))
    yield S3Blobs(bucket, work=tmp_path / "work")


def _bundle(tmp_path: Path, data: bytes) -> tuple[str, Path]:
    path = tmp_path / "bundle"
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest(), path


def test_a_missing_bundle_has_no_size_no_date_and_is_not_there(blobs: Any) -> None:
    missing = "ab" * 32
    assert blobs.exists(missing) is False
    assert blobs.size_of(missing) is None  # the folder's store raised FileNotFoundError
    assert blobs.modified(missing) is None
    assert list(blobs.list_bundles()) == []


def test_a_stored_bundle_is_seen_alike(blobs: Any, tmp_path: Path) -> None:
    bundle_id, path = _bundle(tmp_path, b"a bundle's bytes" * 100)
    blobs.put(bundle_id, path)
    assert blobs.exists(bundle_id) is True
    assert blobs.size_of(bundle_id) == 1600
    assert isinstance(blobs.modified(bundle_id), float)
    with blobs.open(bundle_id) as stream:
        assert stream.read() == b"a bundle's bytes" * 100
    assert [(b.pack_id, b.size) for b in blobs.list_bundles()] == [(bundle_id, 1600)]
    blobs.delete(bundle_id)
    assert blobs.exists(bundle_id) is False and blobs.size_of(bundle_id) is None
