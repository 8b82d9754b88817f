"""An S3 remote's settings against a real S3 server (SeaweedFS): what a clone records, the
one retry policy, and endpoints that hold credentials (refused, never echoed)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from muse.errors import RemoteError, TransientRemoteError
from muse.remote import RemoteOptions
from muse.remote_wrappers import DEFAULT_RETRIES, connect
from tests.branching_support import commit, repo, write
from tests.remote_support import ok
from tests.s3_server import S3Server
from tests.testkit import MuseRunner, changes_nothing, tree_state

SECRET = "muse_s3cr3tThatMustNeverBePrinted"


@pytest.fixture
def s3_env(s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The server's credentials in the environment, and no endpoint or region there."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("MUSE_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_REGION",
                 "AWS_DEFAULT_REGION", "AWS_MAX_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    return s3_server


@pytest.fixture
def pushed(muse: MuseRunner, repo_dir: Path, s3_env: S3Server) -> tuple[Path, str]:
    """`repo_dir` with one commit pushed to a fresh bucket through remote `origin`, added
    with its settings; the bucket's URL."""
    url = f"s3://{s3_env.new_bucket()}/songs/demo"
    ok(muse("remote", "add", "origin", url, "--setting", f"endpoint={s3_env.endpoint}",
            "--setting", "path-style=true", "--setting", "timeout=20", cwd=repo_dir))
    write(repo_dir, "song.mid", "verse")
    commit(muse, repo_dir, "first take")
    ok(muse("push", "origin", "main", cwd=repo_dir))
    return repo_dir, url


def settings_of(where: Path, name: str = "origin") -> dict[str, str]:
    prefix = f"remote.{name}."
    return {k[len(prefix):]: v for k, v in repo(where).config.items() if k.startswith(prefix)}


# -- what a clone records ---------------------------------------------------------------------


def test_remote_add_records_its_settings(pushed: tuple[Path, str], s3_env: S3Server) -> None:
    work, url = pushed
    assert settings_of(work) == {"url": url, "endpoint": s3_env.endpoint,
                                 "path-style": "true", "timeout": "20"}


def test_a_clone_records_the_settings_it_was_given_and_fetch_and_push_use_them(
        muse: MuseRunner, pushed: tuple[Path, str], s3_env: S3Server, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`muse clone s3://…` had no way to name an endpoint but the environment, and
    recorded nothing of it: fetch and push from the clone then went to AWS."""
    work, url = pushed
    copy = tmp_path / "copy"
    ok(muse("clone", url, str(copy), "--setting", f"endpoint={s3_env.endpoint}",
            "--setting", "path-style=true", "--setting", "region=eu-west-3", cwd=tmp_path))
    assert settings_of(copy) == {"url": url, "endpoint": s3_env.endpoint,
                                 "path-style": "true", "region": "eu-west-3"}
    # An environment naming another endpoint: the remote's own setting wins.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    write(work, "song.mid", "chorus")
    second = commit(muse, work, "second take")
    ok(muse("push", "origin", "main", cwd=work))
    ok(muse("pull", cwd=copy))
    assert repo(copy).head() == second
    write(copy, "bass.mid", "line")
    third = commit(muse, copy, "from the clone")
    ok(muse("push", cwd=copy))
    ok(muse("fetch", "origin", cwd=work))
    assert repo(work).refs.read("refs/remotes/origin/main") == third


def test_a_clone_records_the_endpoint_and_region_it_took_from_the_environment(
        muse: MuseRunner, pushed: tuple[Path, str], s3_env: S3Server, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    work, url = pushed
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_env.endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    copy = tmp_path / "copy"
    ok(muse("clone", url, str(copy), cwd=tmp_path))
    assert settings_of(copy) == {"url": url, "endpoint": s3_env.endpoint,
                                 "region": "eu-west-3"}
    # Another shell: no endpoint in the environment. The clone still reaches its bucket.
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    write(work, "song.mid", "chorus")
    second = commit(muse, work, "second take")
    ok(muse("push", "origin", "main", cwd=work))
    ok(muse("fetch", cwd=copy))
    assert repo(copy).refs.read("refs/remotes/origin/main") == second


def test_a_clone_under_another_remote_name_records_its_settings_there(
        muse: MuseRunner, pushed: tuple[Path, str], s3_env: S3Server, tmp_path: Path) -> None:
    _, url = pushed
    copy = tmp_path / "copy"
    ok(muse("clone", "-o", "studio", url, str(copy), "--setting",
            f"endpoint={s3_env.endpoint}", cwd=tmp_path))
    assert settings_of(copy, "studio")["endpoint"] == s3_env.endpoint
    assert settings_of(copy, "origin") == {}
    ok(muse("fetch", "studio", cwd=copy))


@pytest.mark.parametrize("word, code, says", [
    ("endpoint", 2, "is not KEY=VALUE"),
    ("=http://127.0.0.1:9", 2, "is not KEY=VALUE"),
    ("a.b=1", 2, "is not KEY=VALUE"),
    ("url=s3://other/x", 2, "cannot set the remote's URL"),
    (f"endpoint=http://ada:{SECRET}@127.0.0.1:9", 6, "http://***@127.0.0.1:9"),
])
def test_a_bad_setting_is_refused_and_changes_nothing(muse: MuseRunner, repo_dir: Path,
                                                      s3_env: S3Server, tmp_path: Path,
                                                      word: str, code: int, says: str) -> None:
    url = f"s3://{s3_env.new_bucket()}/x"
    for args in (("remote", "add", "origin", url, "--setting", word),
                 ("clone", url, str(tmp_path / "copy"), "--setting", word)):
        result = changes_nothing(muse, repo_dir, *args, exit_code=code, root=tmp_path)
        assert says in result.stderr and SECRET not in result.output, args
    assert not (tmp_path / "copy").exists()


def test_a_setting_the_driver_refuses_leaves_no_clone(muse: MuseRunner, pushed: tuple[Path, str],
                                                      s3_env: S3Server, tmp_path: Path) -> None:
    _, url = pushed
    before = tree_state(tmp_path)
    result = muse("clone", url, str(tmp_path / "copy"), "--setting",
                  f"endpoint={s3_env.endpoint}", "--setting", "path-style=perhaps",
                  cwd=tmp_path)
    assert result.exit_code == 7 and "path-style" in result.stderr
    assert not (tmp_path / "copy").exists() and tree_state(tmp_path) == before


# -- endpoints holding credentials ------------------------------------------------------------


def with_secret(endpoint: str) -> str:
    return endpoint.replace("http://", f"http://ada:{SECRET}@")


def redacted(endpoint: str) -> str:
    return endpoint.replace("http://", "http://***@")


def test_an_endpoint_with_credentials_is_refused_by_config_and_never_echoed(
        muse: MuseRunner, pushed: tuple[Path, str], s3_env: S3Server) -> None:
    work, _ = pushed
    for key in ("remote.origin.endpoint", "remote.other.endpoint", "remote.origin.proxy"):
        result = changes_nothing(muse, work, "config", key, with_secret(s3_env.endpoint),
                                 exit_code=6)
        assert SECRET not in result.output and redacted(s3_env.endpoint) in result.stderr
        assert "AWS_ACCESS_KEY_ID" in result.stderr  # the hint says where keys go


def test_an_endpoint_with_credentials_in_the_config_or_environment_is_never_sent(
        muse: MuseRunner, pushed: tuple[Path, str], s3_env: S3Server, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """It was stored, sent to botocore, and echoed in every error ("Could not connect to
    the endpoint URL: http://ada:SECRET@…") and in the probe cache."""
    work, url = pushed
    bucket = url[len("s3://"):].split("/")[0]
    stored = s3_env.client().list_objects_v2(Bucket=bucket)["KeyCount"]
    write(work, "song.mid", "chorus")
    commit(muse, work, "second take")
    repo(work).config.set("remote.origin.endpoint", with_secret(s3_env.endpoint))
    commands = [("push", "origin", "main"), ("fetch", "origin"), ("ls-remote", "origin"),
                ("push", "--json", "origin", "main"), ("gc", "--remote", "origin")]
    for args in commands:
        result = changes_nothing(muse, work, *args, exit_code=6)
        assert SECRET not in result.output, args
        assert redacted(s3_env.endpoint) in result.output, args
    repo(work).config.unset("remote.origin.endpoint")
    for variable in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        monkeypatch.setenv(variable, with_secret(s3_env.endpoint))
        for args in (("push", url, "main"), ("clone", url, str(tmp_path / "copy"))):
            result = changes_nothing(muse, work, *args, exit_code=6, root=tmp_path)
            assert SECRET not in result.output and variable in result.stderr, args
        monkeypatch.delenv(variable)
    assert s3_env.client().list_objects_v2(Bucket=bucket)["KeyCount"] == stored
    cache = tmp_path / "cache" / "s3-conditional-writes.json"
    assert SECRET not in cache.read_text("utf-8")


def test_the_hubs_bucket_refuses_an_endpoint_or_url_with_credentials(
        s3_env: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from remotes.hub.s3_blobs import S3Blobs

    bucket = s3_env.new_bucket()
    for variable in ("MUSE_HUB_S3_ENDPOINT", "MUSE_HUB_S3_PUBLIC_ENDPOINT"):
        monkeypatch.setenv("MUSE_HUB_S3_ENDPOINT", s3_env.endpoint)
        monkeypatch.setenv(variable, with_secret(s3_env.endpoint))
        with pytest.raises(RemoteError) as caught:
            S3Blobs.from_url(f"s3://{bucket}/hub")
        assert SECRET not in str(caught.value) and redacted(s3_env.endpoint) in str(caught.value)
        monkeypatch.delenv(variable)
    monkeypatch.setenv("MUSE_HUB_S3_ENDPOINT", s3_env.endpoint)
    with pytest.raises(RemoteError) as caught:  # `--blobs s3://KEY:SECRET@bucket/…`
        S3Blobs.from_url(f"s3://AKIA:{SECRET}@{bucket}/hub")
    assert SECRET not in str(caught.value) and "s3://***@" in str(caught.value)


# -- one retry policy ------------------------------------------------------------------------


@contextlib.contextmanager
def silent_endpoint() -> Iterator[tuple[str, list[socket.socket]]]:
    """An endpoint that takes every connection and never answers; the connections taken."""
    taken: list[socket.socket] = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        server.settimeout(0.1)
        done = threading.Event()

        def take() -> None:
            while not done.is_set():
                with contextlib.suppress(TimeoutError):
                    taken.append(server.accept()[0])

        thread = threading.Thread(target=take, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.getsockname()[1]}", taken
        finally:
            done.set()
            thread.join()
            for conn in taken:
                conn.close()


def test_a_silent_endpoint_is_tried_once_per_retry_not_once_per_retry_squared(
        s3_env: S3Server) -> None:
    """botocore retried each request 4 times inside each of Muse's 4 attempts: 16
    requests, and a 2 s timeout took 34 s to report."""
    trace: Counter[str] = Counter()
    with silent_endpoint() as (endpoint, taken):
        options = RemoteOptions(timeout=0.3, settings={"endpoint": endpoint,
                                                       "path-style": "true"})
        remote = connect("s3://muse-silent/repo", options, trace=trace, sleep=lambda s: None)
        started = time.monotonic()
        with pytest.raises(TransientRemoteError) as caught:
            remote.list_refs()
        took = time.monotonic() - started
        assert len(taken) == DEFAULT_RETRIES  # one request per attempt
    assert trace["list_refs"] == DEFAULT_RETRIES
    assert took < DEFAULT_RETRIES * 0.3 + 1.5
    assert caught.value.message.startswith("S3 did not answer in time for ")


def test_tls_and_refused_credentials_are_tried_once(s3_env: S3Server,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = s3_env.new_bucket()
    cases = [({"endpoint": s3_env.endpoint.replace("http://", "https://")}, None),
             ({"endpoint": s3_env.endpoint}, "remote-auth")]
    for settings, code in cases:
        trace: Counter[str] = Counter()
        if code == "remote-auth":
            monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        remote = connect(f"s3://{bucket}/repo", RemoteOptions(
            timeout=5, settings={**settings, "path-style": "true"}), trace=trace,
            sleep=lambda s: None)
        with pytest.raises(RemoteError) as caught:
            remote.list_refs()
        assert not isinstance(caught.value, TransientRemoteError)
        assert trace["list_refs"] == 1, settings
        if code is not None:
            assert caught.value.code == code


def test_only_callers_without_a_retry_wrapper_let_the_driver_retry(
        pushed: tuple[Path, str], s3_env: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from remotes.maintenance import open_maintenance
    from remotes.s3 import open_bucket

    _, url = pushed
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "10")  # botocore's own knob does not multiply
    settings = {"endpoint": s3_env.endpoint, "path-style": "true"}

    def attempts(client: object) -> int:
        return int(client.meta.config.retries["total_max_attempts"])  # type: ignore[attr-defined]

    assert attempts(open_bucket(url, RemoteOptions(settings=settings)).client) == 1
    upkeep = open_maintenance(url, RemoteOptions(settings=settings))
    assert attempts(upkeep.bucket.client) == DEFAULT_RETRIES  # type: ignore[attr-defined]
    with silent_endpoint() as (endpoint, taken):
        bucket = open_bucket("s3://muse-silent/repo", RemoteOptions(
            timeout=0.3, request_attempts=2, settings={"endpoint": endpoint,
                                                       "path-style": "true"}))
        with pytest.raises(TransientRemoteError):
            bucket.get("refs.json")
        assert len(taken) == 2
