"""The bucket primitives' contract, run against every implementation in BUCKETS."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from muse.errors import MuseError
from remotes.bucket import Bucket
from tests.remotes.bucket_support import BUCKETS


@pytest.fixture(params=sorted(BUCKETS))
def bucket(request: pytest.FixtureRequest, tmp_path: Path) -> Bucket:
    return BUCKETS[request.param](tmp_path)


def read(bucket: Bucket, key: str, start: int = 0, length: int | None = None) -> bytes:
    with bucket.open_range(key, start, length) as stream:
        return stream.read()


def test_a_missing_key_is_none(bucket: Bucket) -> None:
    assert bucket.get("packs/nothing") is None
    assert list(bucket.list("")) == []


def test_put_if_absent_creates_once_and_never_overwrites(bucket: Bucket, tmp_path: Path) -> None:
    assert bucket.put_if_absent("packs/a", b"first") is True
    assert bucket.put_if_absent("packs/a", b"second") is False
    source = tmp_path / "upload"
    source.write_bytes(b"third")
    assert bucket.put_if_absent("packs/a", source, disposable=True) is False
    found = bucket.get("packs/a")
    assert found is not None and found.data == b"first"
    assert source.read_bytes() == b"third"  # a refused upload leaves the sender's file alone


def test_a_file_source_is_stored_whole_and_a_disposable_one_may_be_adopted(
        bucket: Bucket, tmp_path: Path) -> None:
    data = bytes(range(256)) * 4096
    source = tmp_path / "bundle"
    source.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    assert bucket.put_if_absent("packs/big", source, sha256=digest, disposable=True)
    assert read(bucket, "packs/big") == data
    copied = tmp_path / "kept"
    copied.write_bytes(b"kept by the caller")
    assert bucket.put_if_absent("packs/copy", copied)
    copied.write_bytes(b"rewritten later")  # not disposable: the bucket holds its own copy
    assert read(bucket, "packs/copy") == b"kept by the caller"


def test_an_upload_whose_bytes_do_not_match_its_sha256_leaves_nothing(
        bucket: Bucket, tmp_path: Path) -> None:
    source = tmp_path / "bundle"
    source.write_bytes(b"the real bytes")
    with pytest.raises(MuseError):
        bucket.put_if_absent("packs/x", source, sha256="ab" * 32)
    with pytest.raises(MuseError):
        bucket.put_if_absent("packs/y", b"bytes", sha256="cd" * 32)
    assert bucket.get("packs/x") is None and bucket.get("packs/y") is None
    assert list(bucket.list("")) == []


def test_an_interrupted_upload_leaves_nothing(bucket: Bucket, tmp_path: Path) -> None:
    with pytest.raises(OSError):
        bucket.put_if_absent("packs/gone", tmp_path / "no-such-file")
    assert bucket.get("packs/gone") is None
    assert list(bucket.list("")) == []
    assert bucket.put_if_absent("packs/gone", b"later")  # the key is still free


def test_put_if_match_creates_with_none_and_refuses_a_stale_tag(bucket: Bucket) -> None:
    first = bucket.put_if_match("refs.json", b"one", None)
    assert first is not None
    assert bucket.put_if_match("refs.json", b"again", None) is None  # create-only
    found = bucket.get("refs.json")
    assert found is not None and found.data == b"one" and found.tag == first
    second = bucket.put_if_match("refs.json", b"two", first)
    assert second is not None and second != first
    assert bucket.put_if_match("refs.json", b"three", first) is None  # stale
    found = bucket.get("refs.json")
    assert found is not None and found.data == b"two" and found.tag == second


def test_ranged_reads(bucket: Bucket) -> None:
    data = bytes(range(200))
    bucket.put_if_absent("packs/r", data)
    assert read(bucket, "packs/r", 3, 5) == data[3:8]
    assert read(bucket, "packs/r", 150) == data[150:]
    assert read(bucket, "packs/r", 190, 50) == data[190:]  # past the end: what there is
    assert read(bucket, "packs/r", 0, 0) == b""


def test_list_with_prefix_returns_every_key_across_pages(bucket: Bucket) -> None:
    keys = {f"packs/pack-{i:04d}.bundle" for i in range(1100)}  # more than one S3 page
    for key in keys:
        bucket.put_if_absent(key, b"x")
    bucket.put_if_absent("refs.json", b"{}")
    bucket.put_if_absent("other/packs-not", b"y")
    assert set(bucket.list("packs/")) == keys
    assert set(bucket.list("packs/pack-000")) == {f"packs/pack-000{i}.bundle" for i in range(10)}
    assert set(bucket.list("")) == keys | {"refs.json", "other/packs-not"}


def test_delete(bucket: Bucket) -> None:
    bucket.put_if_absent("packs/d", b"bytes")
    bucket.delete("packs/d")
    assert bucket.get("packs/d") is None
    assert list(bucket.list("packs/")) == []
    bucket.delete("packs/d")  # deleting what is gone is not an error
    assert bucket.put_if_absent("packs/d", b"new")


def test_list_info_gives_each_keys_size_and_write_time(bucket: Bucket) -> None:
    # The store's clock and ours may disagree a little (S3 keeps whole seconds).
    before = time.time() - 5
    bucket.put_if_absent("packs/pack-a.bundle", b"x" * 300)
    bucket.put_if_match("refs.json", b"{}", None)
    found = {info.key: info for info in bucket.list_info("packs/")}
    assert set(found) == {"packs/pack-a.bundle"}
    assert found["packs/pack-a.bundle"].size == 300
    assert before <= found["packs/pack-a.bundle"].modified <= time.time() + 5
    assert [i.key for i in bucket.list_info("")] == list(bucket.list(""))
    bucket.delete("packs/pack-a.bundle")
    assert list(bucket.list_info("packs/")) == []
