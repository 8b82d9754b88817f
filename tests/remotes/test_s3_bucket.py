"""The S3 bucket primitives against a real S3 server (SeaweedFS), and their faults.

The `s3` fixture yields a `Bucket`, so these tests can join the shared primitive
suite as they are. Faults a real server will not produce on demand (a lost reply,
a dropped connection mid-part, throttling, a store ignoring conditional headers)
come from an injected client: the real one, wrapped, or botocore's Stubber.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from muse.errors import ConfigError, RemoteError, TransientRemoteError, UsageError
from muse.remote import RemoteOptions
from remotes.s3 import MiB, ProbeVerdicts, S3Bucket, make_client, open_bucket, parse_url
from tests.remotes import test_bucket_primitives as shared
from tests.s3_server import RequestLog, S3Server

PART = 5 * MiB  # S3's smallest part; SeaweedFS, like AWS, refuses smaller ones


def new_bucket(server: S3Server, tmp_path: Path, client: Any = None,
               bucket: str | None = None, **options: Any) -> S3Bucket:
    return S3Bucket(client or server.client(), bucket or server.new_bucket(), "repo/",
                    endpoint=server.endpoint,
                    verdicts=ProbeVerdicts(tmp_path / "cache" / "probe.json"), **options)


@pytest.fixture
def s3(s3_server: S3Server, tmp_path: Path) -> S3Bucket:
    """A fresh bucket on the real server, repository at `repo/`, multipart above 6 MiB."""
    return new_bucket(s3_server, tmp_path, multipart_threshold=6 * MiB, part_size=PART,
                      page_size=7)


class Faulty:
    """The real client, with `faults[name](kwargs)` run before that call (it may raise)."""

    def __init__(self, inner: Any, **faults: Callable[[dict[str, Any]], None]) -> None:
        self._inner = inner
        self.faults = faults

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._inner, name)
        fault = self.faults.get(name)
        if fault is None:
            return real

        def call(**kwargs: Any) -> Any:
            fault(kwargs)
            return real(**kwargs)

        return call


def read(bucket: S3Bucket, key: str, start: int = 0, length: int | None = None) -> bytes:
    with bucket.open_range(key, start, length) as stream:
        return stream.read()


def uploads_in_progress(s3: S3Bucket) -> list[str]:
    found = s3.client.list_multipart_uploads(Bucket=s3.bucket)
    return [u["Key"] for u in found.get("Uploads", [])]


def every_key(s3: S3Bucket) -> list[str]:
    """Every key in the whole bucket, probe keys and other prefixes included."""
    found = s3.client.list_objects_v2(Bucket=s3.bucket)
    return [item["Key"] for item in found.get("Contents", [])]


def big_file(tmp_path: Path, size: int, name: str = "bundle") -> tuple[Path, str]:
    data = hashlib.sha256(name.encode()).digest() * (size // 32) + b"x" * (size % 32)
    path = tmp_path / name
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


# -- the shared primitive suite, run here against S3 (its `bucket` is the fixture below) ----

@pytest.fixture
def bucket(s3: S3Bucket) -> S3Bucket:
    return s3


test_shared_missing_key = shared.test_a_missing_key_is_none
test_shared_create_once = shared.test_put_if_absent_creates_once_and_never_overwrites
test_shared_file_source = (
    shared.test_a_file_source_is_stored_whole_and_a_disposable_one_may_be_adopted)
test_shared_sha256_mismatch = (
    shared.test_an_upload_whose_bytes_do_not_match_its_sha256_leaves_nothing)
test_shared_interrupted = shared.test_an_interrupted_upload_leaves_nothing
test_shared_swap = shared.test_put_if_match_creates_with_none_and_refuses_a_stale_tag
test_shared_ranges = shared.test_ranged_reads
test_shared_list = shared.test_list_with_prefix_returns_every_key_across_pages
test_shared_delete = shared.test_delete
test_shared_list_info = shared.test_list_info_gives_each_keys_size_and_write_time


# -- what S3 adds --------------------------------------------------------------------------

def test_keys_live_under_the_prefix_and_the_probe_leaves_none(s3: S3Bucket) -> None:
    assert s3.put_if_absent("packs/a", b"first") is True
    assert s3.put_if_match("refs.json", b"{}", None) is not None
    assert sorted(every_key(s3)) == ["repo/packs/a", "repo/refs.json"]


def test_if_match_on_a_missing_key_is_stale(s3: S3Bucket) -> None:
    tag = s3.put_if_match("refs.json", b"one", None)
    assert tag is not None
    assert s3.put_if_match("missing.json", b"x", tag) is None
    assert s3.get("missing.json") is None


def test_ranges_at_the_end_and_of_a_missing_key(s3: S3Bucket) -> None:
    data = bytes(range(200))
    assert s3.put_if_absent("packs/r", data)
    assert read(s3, "packs/r", 200) == b""  # S3 answers 416 there: an empty stream
    with pytest.raises(RemoteError) as caught:  # a missing key is an error, not empty
        read(s3, "packs/none")
    assert caught.value.code == "remote-missing"


def test_list_pages_and_keeps_to_its_prefix(s3: S3Bucket, s3_server: S3Server,
                                            tmp_path: Path) -> None:
    keys = {f"packs/pack-{i:02d}.bundle" for i in range(23)}  # page size 7: four pages
    for key in keys:
        assert s3.put_if_absent(key, b"x")
    neighbour = new_bucket(s3_server, tmp_path, bucket=s3.bucket)
    neighbour.prefix = "other/"  # another repository in the same bucket
    neighbour.put_if_absent("packs/theirs", b"y")
    log = RequestLog(s3.client)
    assert set(s3.list("packs/")) == keys
    assert log.take()["ListObjectsV2"] == 4
    assert set(s3.list("")) == keys
    assert list(neighbour.list("")) == ["packs/theirs"]


def test_a_multipart_upload_that_misses_its_sha256_stores_nothing(s3: S3Bucket,
                                                                  tmp_path: Path) -> None:
    # The whole file's digest is checked while the parts travel: a mismatch aborts the
    # upload before it is completed, so no key appears and no upload is left to bill.
    big, _ = big_file(tmp_path, 7 * MiB)
    with pytest.raises(RemoteError) as caught:
        s3.put_if_absent("packs/big", big, sha256="ab" * 32)
    assert caught.value.code == "checksum-mismatch"
    assert every_key(s3) == [] and uploads_in_progress(s3) == []


def test_the_server_itself_refuses_bytes_that_miss_their_checksum(s3: S3Bucket,
                                                                   tmp_path: Path) -> None:
    source = tmp_path / "bundle"
    source.write_bytes(b"the real bytes")
    s3.ensure_conditional_writes()
    log = RequestLog(s3.client)
    with pytest.raises(RemoteError) as caught:
        s3.put_if_absent("packs/x", source, sha256="ab" * 32)
    assert caught.value.code == "checksum-mismatch"
    assert "nothing was stored" in caught.value.message
    assert log.take()["PutObject"] == 1  # sent, and refused by the server, not by Muse
    assert every_key(s3) == []


def test_a_single_part_put_costs_one_request(s3: S3Bucket, tmp_path: Path) -> None:
    s3.ensure_conditional_writes()
    log = RequestLog(s3.client)
    path, digest = big_file(tmp_path, 3 * MiB)
    assert s3.put_if_absent("packs/one", path, sha256=digest)
    assert log.take() == {"PutObject": 1}
    tag = s3.put_if_match("refs.json", b"{}", None)
    assert log.take() == {"PutObject": 1}
    found = s3.get("refs.json")
    assert log.take() == {"GetObject": 1}
    assert found is not None and found.tag == tag
    assert read(s3, "packs/one") == path.read_bytes()


# -- multipart -----------------------------------------------------------------------------

def test_a_large_upload_goes_multipart_with_checksummed_parts(s3: S3Bucket,
                                                              tmp_path: Path) -> None:
    path, digest = big_file(tmp_path, 3 * PART + 1234)
    s3.ensure_conditional_writes()
    log = RequestLog(s3.client)
    assert s3.put_if_absent("packs/big", path, sha256=digest)
    counts = log.take()
    assert counts["UploadPart"] == 4 and counts["CompleteMultipartUpload"] == 1
    assert counts["PutObject"] == 0
    assert read(s3, "packs/big") == path.read_bytes()
    assert read(s3, "packs/big", PART - 2, 4) == path.read_bytes()[PART - 2:PART + 2]
    assert uploads_in_progress(s3) == []
    assert s3.put_if_absent("packs/big", path, sha256=digest) is False
    assert log.take()["UploadPart"] == 0  # an existing key is seen before any part is sent


def test_an_interrupted_multipart_upload_resumes_without_resending_parts(
        s3_server: S3Server, s3: S3Bucket, tmp_path: Path) -> None:
    from botocore.exceptions import EndpointConnectionError

    path, digest = big_file(tmp_path, 4 * PART + 99)

    def drop_part_three(call: dict[str, Any]) -> None:
        if call["PartNumber"] == 3:
            raise EndpointConnectionError(endpoint_url=s3_server.endpoint)

    s3.ensure_conditional_writes()
    real = s3.client
    s3.client = Faulty(real, upload_part=drop_part_three)
    with pytest.raises(TransientRemoteError):
        s3.put_if_absent("packs/big", path, sha256=digest)
    assert s3.get("packs/big") is None
    assert uploads_in_progress(s3) == ["repo/packs/big"]  # kept for the retry
    stored = real.list_parts(Bucket=s3.bucket, Key="repo/packs/big",
                             UploadId=real.list_multipart_uploads(Bucket=s3.bucket)
                             ["Uploads"][0]["UploadId"])["Parts"]
    assert 3 not in {p["PartNumber"] for p in stored}

    s3.client = real
    log = RequestLog(real)
    assert s3.put_if_absent("packs/big", path, sha256=digest)
    assert log.take()["UploadPart"] == 5 - len(stored)  # only the missing parts
    assert read(s3, "packs/big") == path.read_bytes()
    assert uploads_in_progress(s3) == []


def test_a_failed_multipart_upload_is_aborted(s3: S3Bucket, tmp_path: Path) -> None:
    from botocore.exceptions import ClientError

    path, digest = big_file(tmp_path, 3 * PART)

    def deny_part_two(call: dict[str, Any]) -> None:
        if call["PartNumber"] == 2:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"},
                               "ResponseMetadata": {"HTTPStatusCode": 403}}, "UploadPart")

    s3.ensure_conditional_writes()
    real = s3.client
    s3.client = Faulty(real, upload_part=deny_part_two)
    with pytest.raises(RemoteError) as caught:
        s3.put_if_absent("packs/big", path, sha256=digest)
    assert caught.value.code == "remote-auth"
    assert uploads_in_progress(s3) == []  # aborted: nothing left to bill anyone
    assert every_key(s3) == []


def test_two_pushers_of_one_large_bundle_share_its_upload(s3: S3Bucket, tmp_path: Path) -> None:
    path, digest = big_file(tmp_path, 2 * PART + 7)
    s3.ensure_conditional_writes()
    real = s3.client

    def the_other_pusher_completes_first(call: dict[str, Any]) -> None:
        real.complete_multipart_upload(**call)  # it found and finished the same upload

    s3.client = Faulty(real, complete_multipart_upload=the_other_pusher_completes_first)
    assert s3.put_if_absent("packs/big", path, sha256=digest) is False  # stored, not by us
    assert read(s3, "packs/big") == path.read_bytes()
    assert uploads_in_progress(s3) == []


# -- a 412 after a retry -------------------------------------------------------------------

def lose_first_reply(client: Any, operation: str, times: int = 1) -> None:
    """Make botocore retry the next `times` calls of `operation` once, after they succeeded."""
    left = [times]

    def retry_once(attempts: int, caught_exception: Exception | None, **_: Any) -> int | None:
        if attempts == 1 and caught_exception is None and left[0] > 0:
            left[0] -= 1
            return 0  # retry at once, as if the reply had been lost on the way back
        return None

    client.meta.events.register_first(f"needs-retry.s3.{operation}", retry_once)


def test_a_412_after_a_retry_is_read_back_before_calling_it_a_conflict(
        s3: S3Bucket, tmp_path: Path) -> None:
    s3.ensure_conditional_writes()
    first = s3.put_if_match("refs.json", b"one", None)
    lose_first_reply(s3.client, "PutObject", times=2)
    log = RequestLog(s3.client)
    assert s3.put_if_absent("packs/a", b"pack bytes") is True  # the first try stored it
    assert log.take()["PutObject"] == 2
    tag = s3.put_if_match("refs.json", b"two", first)  # the swap landed on the first try
    found = s3.get("refs.json")
    assert found is not None and found.data == b"two" and tag == found.tag
    # A plain 412 (no retry) is still a conflict, with no read-back.
    assert s3.put_if_match("refs.json", b"three", first) is None
    assert s3.put_if_absent("packs/a", b"pack bytes") is False


def test_a_multipart_412_after_a_retry_is_read_back_too(s3: S3Bucket, tmp_path: Path) -> None:
    path, digest = big_file(tmp_path, 2 * PART + 10)
    s3.ensure_conditional_writes()
    lose_first_reply(s3.client, "CompleteMultipartUpload")
    assert s3.put_if_absent("packs/big", path, sha256=digest) is True
    assert read(s3, "packs/big") == path.read_bytes()
    assert uploads_in_progress(s3) == []


# -- the conditional-write probe -----------------------------------------------------------

def test_the_probe_runs_once_per_bucket_and_its_verdict_is_remembered(
        s3_server: S3Server, tmp_path: Path) -> None:
    client = s3_server.client()
    log = RequestLog(client)
    first = new_bucket(s3_server, tmp_path, client=client)
    log.take()
    assert first.put_if_absent("packs/a", b"a")
    probe = log.take()
    assert probe["PutObject"] == 5 and probe["DeleteObject"] == 1  # 4 probe writes + the put
    assert first.put_if_absent("packs/b", b"b")
    assert log.take() == {"PutObject": 1}
    again = new_bucket(s3_server, tmp_path, client=client, bucket=first.bucket)
    assert again.put_if_match("refs.json", b"{}", None)
    assert log.take() == {"PutObject": 1}  # the verdict came from the cache file
    assert sorted(every_key(first)) == ["repo/packs/a", "repo/packs/b", "repo/refs.json"]


def test_a_damaged_verdict_cache_means_probing_again(s3_server: S3Server,
                                                    tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "probe.json"
    cache.parent.mkdir()
    cache.write_bytes(b"\x00{not json")
    client = s3_server.client()
    s3 = new_bucket(s3_server, tmp_path, client=client)
    log = RequestLog(client)
    assert s3.put_if_absent("packs/a", b"a")
    assert log.take()["PutObject"] == 5  # probed again, then the put
    assert ProbeVerdicts(cache).passed(f"{s3_server.endpoint} {s3.bucket}")


@pytest.mark.parametrize(("ignored", "named"), [("IfNoneMatch", "If-None-Match"),
                                               ("IfMatch", "If-Match")])
def test_a_store_that_ignores_conditional_headers_is_refused(
        s3_server: S3Server, tmp_path: Path, ignored: str, named: str) -> None:
    def drop_header(call: dict[str, Any]) -> None:
        call.pop(ignored, None)  # what a store that ignores the header amounts to

    real = s3_server.client()
    s3 = new_bucket(s3_server, tmp_path, client=Faulty(real, put_object=drop_header))
    for attempt in (lambda: s3.put_if_absent("packs/a", b"a"),
                    lambda: s3.put_if_match("refs.json", b"{}", None)):
        with pytest.raises(RemoteError) as caught:
            attempt()
        assert caught.value.code == "unsafe-remote"
        assert named in caught.value.message and "\n" not in caught.value.message
        assert caught.value.hint
    assert every_key(s3) == []  # nothing stored, the probe key removed
    assert not (tmp_path / "cache" / "probe.json").exists()  # a refusal is not remembered


# -- errors at the edge --------------------------------------------------------------------

def test_a_missing_bucket_is_one_clear_line(s3_server: S3Server, tmp_path: Path) -> None:
    s3 = new_bucket(s3_server, tmp_path, bucket="muse-no-such-bucket")
    with pytest.raises(RemoteError) as caught:
        s3.get("refs.json")
    assert caught.value.code == "remote-not-found"
    assert "muse-no-such-bucket" in caught.value.message and caught.value.hint


def test_refused_credentials_are_one_clear_line(s3_server: S3Server, tmp_path: Path) -> None:
    import boto3
    from botocore.config import Config

    bucket = s3_server.new_bucket()
    client = boto3.client("s3", endpoint_url=s3_server.endpoint, region_name="us-east-1",
                          aws_access_key_id=s3_server.access_key,
                          aws_secret_access_key="not-the-secret",
                          config=Config(s3={"addressing_style": "path"}))
    s3 = new_bucket(s3_server, tmp_path, client=client, bucket=bucket)
    with pytest.raises(RemoteError) as caught:
        s3.get("refs.json")
    assert caught.value.code == "remote-auth" and caught.value.hint
    assert not isinstance(caught.value, TransientRemoteError)


def test_an_unreachable_endpoint_is_transient(s3_server: S3Server, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.s3_server import _free_port

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "muse-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "muse-test-secret")

    options = RemoteOptions(timeout=2, settings={
        "endpoint": f"http://127.0.0.1:{_free_port(set())}", "path-style": "true"})
    s3 = open_bucket("s3://muse-nowhere/repo", options, client=None)
    with pytest.raises(TransientRemoteError) as caught:
        s3.get("refs.json")
    assert caught.value.hint


def test_an_endpoint_that_never_answers_is_a_transient_error_not_a_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's read and connect timeouts are also OSErrors, and the edge let OSErrors
    through untranslated: a silent endpoint was exit 70 with a traceback."""
    import socket

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "muse-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "muse-test-secret")
    with socket.socket() as silent:  # connections complete in the backlog; none is answered
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        options = RemoteOptions(timeout=0.3, settings={
            "endpoint": f"http://127.0.0.1:{silent.getsockname()[1]}", "path-style": "true"})
        s3 = open_bucket("s3://muse-silent/repo", options, client=None)
        with pytest.raises(TransientRemoteError) as caught:
            s3.get("refs.json")
    assert caught.value.message.startswith("S3 did not answer in time for ")
    assert caught.value.hint is not None and "remote.NAME.timeout" in caught.value.hint


def test_https_to_a_plain_http_endpoint_is_named_and_not_retried(
        s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's SSLError is an OSError too: it escaped as a traceback."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    options = RemoteOptions(timeout=5, settings={
        "endpoint": s3_server.endpoint.replace("http://", "https://"), "path-style": "true"})
    s3 = open_bucket(f"s3://{s3_server.new_bucket()}/repo", options, client=None)
    with pytest.raises(RemoteError) as caught:
        s3.get("refs.json")
    assert not isinstance(caught.value, TransientRemoteError)
    assert caught.value.message.startswith("TLS with the S3 endpoint failed for ")
    assert caught.value.hint is not None and "AWS_CA_BUNDLE" in caught.value.hint


def test_throttling_and_5xx_are_transient(tmp_path: Path) -> None:
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("s3", endpoint_url="http://127.0.0.1:9", region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="y")
    s3 = S3Bucket(client, "muse-stubbed", "repo/",
                  verdicts=ProbeVerdicts(tmp_path / "probe.json"))
    with Stubber(client) as stub:
        stub.add_client_error("get_object", "SlowDown", http_status_code=503)
        stub.add_client_error("get_object", "InternalError", http_status_code=500)
        stub.add_client_error("get_object", "Weird", "odd", http_status_code=400)
        for expected in (TransientRemoteError, TransientRemoteError):
            with pytest.raises(expected):
                s3.get("refs.json")
        with pytest.raises(RemoteError) as caught:
            s3.get("refs.json")
        assert not isinstance(caught.value, TransientRemoteError)
        assert "Weird" in caught.value.message


# -- opening: URL, settings, credentials ---------------------------------------------------

def test_parse_url() -> None:
    assert parse_url("s3://bucket") == ("bucket", "")
    assert parse_url("s3://my.bucket/a//b/") == ("my.bucket", "a/b/")
    for bad in ("s3://B/x", "s3://ab/x", "s3:///x", "s3://bucket/a/../b", "file:///x"):
        with pytest.raises(UsageError):
            parse_url(bad)


def test_settings_choose_endpoint_region_and_addressing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:2")
    client = make_client(RemoteOptions())
    assert client.meta.endpoint_url == "http://127.0.0.1:2"
    client = make_client(RemoteOptions(settings={
        "endpoint": "http://127.0.0.1:3", "region": "eu-west-3", "path-style": "yes"}))
    assert client.meta.endpoint_url == "http://127.0.0.1:3"
    assert client.meta.region_name == "eu-west-3"
    assert client.meta.config.s3["addressing_style"] == "path"
    for bad in ({"path-style": "perhaps"}, {"endpoint": "not a url"},
                {"profile": "muse-no-such-profile"}):
        with pytest.raises(ConfigError):
            make_client(RemoteOptions(settings=bad))
    for bad in ({"part-size": "1024"}, {"multipart-threshold": "lots"}):
        with pytest.raises(ConfigError):
            open_bucket("s3://bucket/x", RemoteOptions(settings=bad), client=object())


def test_credentials_come_from_the_standard_chain(s3_server: S3Server, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "aws-credentials"
    credentials.write_text(f"[muse]\naws_access_key_id = {s3_server.access_key}\n"
                           f"aws_secret_access_key = {s3_server.secret_key}\n", "utf-8")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MUSE_CACHE_DIR", str(tmp_path / "cache"))
    bucket = s3_server.new_bucket()
    settings = {"endpoint": s3_server.endpoint, "path-style": "true", "profile": "muse"}
    s3 = open_bucket(f"s3://{bucket}/songs/demo", RemoteOptions(settings=settings))
    assert s3.put_if_absent("packs/a", b"a")
    assert every_key(s3) == ["songs/demo/packs/a"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    del settings["profile"]
    from_env = open_bucket(f"s3://{bucket}/songs/demo", RemoteOptions(settings=settings))
    assert [k for k in from_env.list("")] == ["packs/a"]
    assert (tmp_path / "cache" / "s3-conditional-writes.json").exists()


def test_open_remote_is_the_bucket_algorithm_over_s3(s3_server: S3Server, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from muse.remote_registry import open_remote
    from remotes.bucket import BucketRemote

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint)
    monkeypatch.setenv("MUSE_CACHE_DIR", str(tmp_path / "cache"))
    remote = open_remote(f"s3://{s3_server.new_bucket()}/repo")
    assert isinstance(remote, BucketRemote) and remote.list_refs() == {}
    remote.close()


def test_importing_muse_and_the_s3_driver_stays_light() -> None:
    code = ("import sys, muse, muse.remote_registry, remotes.s3\n"
            "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules\n"
            "from muse.remote import RemoteOptions\n"
            "remotes.s3.open_bucket('s3://bucket/x', RemoteOptions(settings="
            "{'endpoint': 'http://127.0.0.1:9'}))\n"
            "assert 'boto3' in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr


def test_only_a_large_upload_waits_for_the_servers_go_ahead(
        s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `Expect: 100-continue` costs a round trip: worth it before a pack (a refused upload
    # never sends its body), not before an index or the refs document.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint)
    client = make_client(RemoteOptions(settings={"path-style": "true"}))
    sent: list[tuple[str, bool]] = []
    client.meta.events.register("before-send.s3", lambda request, **_: sent.append(
        (request.headers.get("Content-Length", "0"), "Expect" in request.headers)))
    bucket = new_bucket(s3_server, tmp_path, client=client)
    path, digest = big_file(tmp_path, 3 * MiB)
    assert bucket.put_if_absent("packs/one", path, sha256=digest)
    assert bucket.put_if_absent("packs/one.idx", b"x" * 1000)
    assert bucket.put_if_match("refs.json", b"{}", None) is not None
    puts = [(int(length), waits) for length, waits in sent if int(length) > 0]
    assert puts[-3:] == [(3 * MiB, True), (1000, False), (2, False)]
    assert bucket.get("refs.json").data == b"{}"
    assert bucket.size_of("packs/one") == 3 * MiB
