"""Driver lookup by scheme (entry points, lazily) and the wrappers `connect()` composes."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import pytest

from muse import remote_registry
from muse.errors import RemoteError, TransientRemoteError
from muse.refs import RefUpdate
from muse.remote import (
    Capabilities,
    IncomingBundle,
    OutgoingBundle,
    RefResult,
    Remote,
    RemoteOptions,
)
from muse.remote_registry import known_schemes, open_remote, scheme_of
from muse.remote_wrappers import CountingRemote, RetryingRemote, connect
from muse.repo import Repository
from remotes.fs import FsRemote


class Flaky:
    """A fake driver failing transiently `failures` times per method, then answering."""

    def __init__(self, failures: int, error: type[Exception] = TransientRemoteError) -> None:
        self.url = "flaky://x"
        self.failures = failures
        self.error = error
        self.calls: Counter[str] = Counter()
        self.seen_bundles: list[bytes] = []

    def _maybe_fail(self, method: str) -> None:
        self.calls[method] += 1
        if self.calls[method] <= self.failures:
            raise self.error(f"{method} failed")

    def capabilities(self) -> Capabilities:
        self._maybe_fail("capabilities")
        return Capabilities()

    def list_refs(self) -> dict[str, str]:
        self._maybe_fail("list_refs")
        return {"refs/heads/main": "ab" * 32}

    def push(self, bundle: OutgoingBundle | None,
             updates: Sequence[RefUpdate]) -> list[RefResult]:
        assert bundle is not None
        with bundle.open() as stream:
            self.seen_bundles.append(stream.read(4))  # a failed attempt read part of it
        self._maybe_fail("push")
        return [RefResult(u.name, u.old, u.new, True) for u in updates]

    def fetch(self, wants: Sequence[str], haves: Sequence[str]) -> list[IncomingBundle]:
        self._maybe_fail("fetch")
        return [IncomingBundle("one", self._open, size=6)]

    @contextlib.contextmanager
    def _open(self) -> Iterator[BinaryIO]:
        self._maybe_fail("open")
        yield io.BytesIO(b"stream")

    def close(self) -> None:
        self.calls["close"] += 1


def test_scheme_of() -> None:
    assert scheme_of("/srv/song") == "file"
    assert scheme_of("../song") == "file"
    assert scheme_of("file:///srv/song") == "file"
    assert scheme_of("S3://bucket/x") == "s3"
    assert scheme_of("hub+https://h/x") == "hub+https"


def test_paths_and_file_urls_open_the_filesystem_driver(tmp_path: Path) -> None:
    assert isinstance(open_remote(str(tmp_path)), FsRemote)
    remote = open_remote(f"file://{tmp_path}")
    assert isinstance(remote, FsRemote) and remote.root == tmp_path


def test_the_builtin_fallback_works_with_stale_entry_points(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote_registry, "_entry_points", lambda: {})
    assert isinstance(open_remote(str(tmp_path)), FsRemote)
    assert known_schemes() == ["file", "s3"]


def _install_fake_distribution(site: Path, entry: str) -> None:
    dist = site / "muse_fake_driver-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: muse-fake-driver\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[muse.remotes]\n{entry}\n")


def test_a_third_party_driver_is_found_through_its_entry_point(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    _install_fake_distribution(site, "mem = muse_fake_driver:open_remote")
    (site / "muse_fake_driver.py").write_text(textwrap.dedent("""
        class MemRemote:
            def __init__(self, url, options):
                self.url = url
                self.options = options
        def open_remote(url, options):
            return MemRemote(url, options)
    """))
    monkeypatch.syspath_prepend(str(site))
    assert "mem" in known_schemes()
    options = RemoteOptions(token="t0k", timeout=5.0, settings={"region": "eu"})
    remote = open_remote("mem://song", options)
    assert type(remote).__name__ == "MemRemote" and remote.url == "mem://song"
    assert remote.options == options  # type: ignore[attr-defined]
    assert open_remote("mem://x").options == RemoteOptions()  # type: ignore[attr-defined]
    sys.modules.pop("muse_fake_driver", None)


def test_a_driver_whose_library_is_missing_says_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    _install_fake_distribution(site, "gone = muse_no_such_module_xyz:open_remote")
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(RemoteError) as caught:
        open_remote("gone://x")
    assert "cannot be loaded" in caught.value.message
    assert caught.value.hint is not None and "pip install" in caught.value.hint


def test_drivers_load_lazily() -> None:
    code = ("import sys, muse.transfer, muse.remote_wrappers, muse.remote_registry\n"
            "print('remotes.fs' in sys.modules)\n"
            "muse.remote_registry.open_remote('/tmp')\n"
            "print('remotes.fs' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.split() == ["False", "True"]


def test_retrying_backs_off_exponentially_with_jitter_and_gives_up() -> None:
    sleeps: list[float] = []
    flaky = Flaky(failures=10)
    retrying = RetryingRemote(flaky, attempts=4, base_delay=0.5, sleep=sleeps.append,
                              rand=lambda: 1.0)
    with pytest.raises(TransientRemoteError):
        retrying.list_refs()
    assert flaky.calls["list_refs"] == 4
    assert sleeps == [0.5, 1.0, 2.0]
    half = RetryingRemote(Flaky(failures=1), sleep=sleeps.append, rand=lambda: 0.5,
                          base_delay=1.0)
    assert half.list_refs()
    assert sleeps[-1] == 0.5  # full jitter: a random share of the capped delay


def test_retrying_caps_the_delay() -> None:
    sleeps: list[float] = []
    retrying = RetryingRemote(Flaky(failures=20), attempts=10, base_delay=1.0, max_delay=3.0,
                              sleep=sleeps.append, rand=lambda: 1.0)
    with pytest.raises(TransientRemoteError):
        retrying.capabilities()
    assert max(sleeps) == 3.0


def test_only_transient_errors_are_retried() -> None:
    flaky = Flaky(failures=1, error=RemoteError)
    with pytest.raises(RemoteError):
        RetryingRemote(flaky, sleep=lambda s: None).list_refs()
    assert flaky.calls["list_refs"] == 1


def test_a_retried_push_sends_the_whole_bundle_again(tmp_path: Path) -> None:
    flaky = Flaky(failures=2)
    retrying = RetryingRemote(flaky, attempts=3, sleep=lambda s: None)
    (tmp_path / "b").write_bytes(b"MUSEbundle bytes")
    sent: list[int] = []
    bundle = OutgoingBundle(tmp_path / "b", 16, "ab" * 32, progress=sent.append)
    results = retrying.push(bundle, [RefUpdate("refs/heads/main", None, "cd" * 32)])
    assert [r.ok for r in results] == [True]
    assert flaky.seen_bundles == [b"MUSE"] * 3  # each attempt reads from the start
    assert sent == [4] * 3


def test_a_fetch_and_each_bundle_open_are_retried() -> None:
    flaky = Flaky(failures=1)
    answer = RetryingRemote(flaky, sleep=lambda s: None).fetch(["ab" * 32], [])
    assert [b.label for b in answer] == ["one"] and flaky.calls["fetch"] == 2
    with answer[0].open() as stream:
        assert stream.read() == b"stream"
    assert flaky.calls["open"] == 2


def test_a_bundle_that_never_opens_gives_up_after_the_attempts() -> None:
    flaky = Flaky(failures=5)
    flaky.calls["fetch"] = 5  # the answer itself comes at once
    answer = RetryingRemote(flaky, attempts=3, sleep=lambda s: None).fetch(["ab" * 32], [])
    with pytest.raises(TransientRemoteError, match="open failed"), answer[0].open():
        pass
    assert flaky.calls["open"] == 3


def test_counting_counts_each_call() -> None:
    seen: list[str] = []
    counted = CountingRemote(Flaky(failures=0), on_call=seen.append)
    counted.list_refs()
    counted.list_refs()
    counted.capabilities()
    (bundle,) = counted.fetch([], [])
    with bundle.open() as stream:
        assert stream.read() == b"stream"
    assert counted.counts == Counter({"list_refs": 2, "capabilities": 1, "fetch": 1,
                                      "open_bundle": 1})
    assert seen == ["list_refs", "list_refs", "capabilities", "fetch", "open_bundle"]


def test_connect_assembles_counting_inside_retrying(tmp_path: Path) -> None:
    Repository.init(tmp_path / "r", bare=True)
    trace: Counter[str] = Counter()
    remote: Remote = connect(str(tmp_path / "r"), trace=trace)
    assert isinstance(remote, RetryingRemote)
    assert isinstance(remote.inner, CountingRemote)
    assert isinstance(remote.inner.inner, FsRemote)
    assert remote.list_refs() == {}
    assert trace == Counter({"list_refs": 1})
    assert isinstance(connect(str(tmp_path / "r"), retries=1), FsRemote)
