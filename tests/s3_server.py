"""A real S3 server for the tests: SeaweedFS (`weed mini`) on loopback, in a temporary dir.

`S3Server.start` binds every SeaweedFS component to 127.0.0.1 on ports picked
free, configures one S3 identity (MUSE_TEST_S3_ACCESS_KEY / MUSE_TEST_S3_SECRET_KEY,
with defaults), waits until S3 answers, and `stop` ends that one process by PID.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muse.remote import Remote
from tests.testkit import stop_process

HOST = "127.0.0.1"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
GRPC_OFFSET = 10000  # SeaweedFS's admin worker dials the admin port plus this, whatever is set


def find_weed() -> str | None:
    """The `weed` binary: $MUSE_TEST_WEED, else beside this Python (a venv's bin/), else PATH."""
    chosen = os.environ.get("MUSE_TEST_WEED")
    if chosen:
        return chosen if os.access(chosen, os.X_OK) else None
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("weed")


def _free_port(taken: set[int]) -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((HOST, 0))
            port = int(probe.getsockname()[1])
        if port not in taken and port + GRPC_OFFSET < 65536 and _is_free(port + GRPC_OFFSET):
            taken.update({port, port + GRPC_OFFSET})
            return port


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


@dataclass
class S3Server:
    """One running `weed mini`, its S3 endpoint and the credentials it accepts."""

    process: subprocess.Popen[bytes] | None  # None: a server started elsewhere
    endpoint: str
    access_key: str
    secret_key: str
    log: Path

    @classmethod
    def start(cls, weed: str, base: Path) -> S3Server:
        access = os.environ.get("MUSE_TEST_S3_ACCESS_KEY", "muse-test")
        secret = os.environ.get("MUSE_TEST_S3_SECRET_KEY", "muse-test-secret")
        (base / "data").mkdir(parents=True)
        identities = {"identities": [{"name": "muse-tests", "credentials": [
            {"accessKey": access, "secretKey": secret}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
        config = base / "s3.json"
        config.write_text(json.dumps(identities), "utf-8")
        taken: set[int] = set()
        ports = {name: _free_port(taken) for name in
                 ("master", "volume", "filer", "s3", "admin")}
        args = [weed, "mini", f"-dir={base / 'data'}", f"-ip={HOST}", f"-ip.bind={HOST}",
                "-master.telemetry=false", "-webdav=false", "-admin.ui=false",
                "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={config}",
                # Every bucket is a collection with volumes of its own, and the suite makes
                # hundreds: many small volumes, not free disk / 1 GiB of them.
                "-master.volumeSizeLimitMB=128", "-volume.max=2000"]
        for name, port in ports.items():
            args += [f"-{name}.port={port}", f"-{name}.port.grpc={port + GRPC_OFFSET}"]
        log = base / "weed.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, cwd=base,
                                       start_new_session=True)
        server = cls(process, f"http://{HOST}:{ports['s3']}", access, secret, log)
        try:
            server._wait_until_ready()
        except BaseException:
            server.stop()
            raise
        return server

    def client(self, **config: Any) -> Any:
        """A boto3 client for this server (path-style, its credentials)."""
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key,
                            config=Config(**{"s3": {"addressing_style": "path"},
                                             "retries": {"mode": "standard",
                                                         "max_attempts": 3}, **config}))

    def new_bucket(self) -> str:
        name = f"muse-{uuid.uuid4().hex[:20]}"
        self.client().create_bucket(Bucket=name)
        return name

    def _wait_until_ready(self) -> None:
        client = self.client(connect_timeout=1, read_timeout=2,
                             retries={"mode": "standard", "max_attempts": 1})
        deadline = time.monotonic() + START_TIMEOUT
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"weed mini exited with {self.process.returncode}: "
                                   f"{self.tail()}")
            try:
                # A bucket round trip proves the whole chain (S3 → filer → volume) works.
                probe = f"muse-ready-{uuid.uuid4().hex[:8]}"
                client.create_bucket(Bucket=probe)
                client.put_object(Bucket=probe, Key="ready", Body=b"ok")
                client.delete_object(Bucket=probe, Key="ready")
                client.delete_bucket(Bucket=probe)
                return
            except Exception as exc:  # not ready yet: refused, 5xx, no volume yet
                last = exc
                time.sleep(0.2)
        raise RuntimeError(f"weed mini did not answer within {START_TIMEOUT:.0f}s "
                           f"({last}): {self.tail()}")

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text("utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """End this server's process (by its PID), politely first."""
        stop_process(self.process, STOP_TIMEOUT)


class S3Harness:
    """The S3 remote over one fresh bucket of `server`, for the conformance suite.

    It satisfies the suite's RemoteHarness: the shared bucket algorithm
    (`BucketRemote`) over `S3Bucket`, the repository at `repo/` in the bucket.
    """

    fault_points: tuple[str, ...] = ("stored", "indexed", "swapped")
    lock_held_point: str | None = None  # no locks: refs move by If-Match

    def __init__(self, base: Path, server: S3Server) -> None:
        self.server = server
        self.bucket = server.new_bucket()
        self.prefix = "repo/"
        self.url = f"s3://{self.bucket}/repo"
        self.verdicts = base / "s3-verdicts.json"

    def environment(self) -> dict[str, str]:
        """What a `muse` process needs to open `self.url` through the registry."""
        return {"AWS_ACCESS_KEY_ID": self.server.access_key,
                "AWS_SECRET_ACCESS_KEY": self.server.secret_key,
                "AWS_ENDPOINT_URL_S3": self.server.endpoint,
                "AWS_DEFAULT_REGION": "us-east-1",
                "MUSE_CACHE_DIR": str(self.verdicts.parent)}

    def open(self, hook: Callable[[str], None] | None = None) -> Remote:
        from remotes.bucket import BucketRemote
        from remotes.s3 import ProbeVerdicts, S3Bucket

        bucket = S3Bucket(self.server.client(), self.bucket, self.prefix, url=self.url,
                          endpoint=self.server.endpoint, verdicts=ProbeVerdicts(self.verdicts))
        return BucketRemote(bucket, url=self.url, hook=hook)

    def open_code(self) -> str:
        return (f"import sys\nsys.path.insert(0, {str(Path(__file__).parent.parent)!r})\n"
                "from pathlib import Path\n"
                "from tests.s3_server import S3Harness, S3Server\n"
                f"server = S3Server(None, {self.server.endpoint!r}, "
                f"{self.server.access_key!r}, {self.server.secret_key!r}, Path('.'))\n"
                "harness = S3Harness.__new__(S3Harness)\n"
                f"harness.server, harness.bucket, harness.prefix = server, {self.bucket!r}, "
                f"{self.prefix!r}\n"
                f"harness.url, harness.verdicts = {self.url!r}, Path({str(self.verdicts)!r})\n"
                "remote = harness.open(hook)\n")

    def lock_is_held(self) -> bool:
        return False

    def _keys(self) -> list[str]:
        client = self.server.client()
        keys: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return keys

    def damage(self, content: bytes) -> None:
        client = self.server.client()
        sample = content[:64]
        for key in self._keys():
            if not key.endswith(".bundle"):
                continue
            data = client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            at = data.find(sample)
            if at >= 0:
                client.put_object(Bucket=self.bucket, Key=key,
                                  Body=data[:at] + bytes([data[at] ^ 1]) + data[at + 1:])
                return
        raise AssertionError("no pack holds that content")

    def state(self) -> dict[str, bytes]:
        client = self.server.client()
        return {key: client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                for key in self._keys()}


def s3_harness(request: Any, base: Path) -> S3Harness:
    """The S3 harness on the session's server, its credentials in this test's environment."""
    harness = S3Harness(base, request.getfixturevalue("s3_server"))
    monkeypatch = request.getfixturevalue("monkeypatch")
    for name, value in harness.environment().items():
        monkeypatch.setenv(name, value)
    return harness


class RequestLog:
    """Every HTTP request a boto3 client sends (retries included), by S3 operation."""

    def __init__(self, client: Any) -> None:
        self.counts: Counter[str] = Counter()
        client.meta.events.register("before-send.s3", self._note)

    def _note(self, event_name: str, **_: Any) -> None:
        self.counts[event_name.rsplit(".", 1)[-1]] += 1

    def take(self) -> Counter[str]:
        seen, self.counts = self.counts, Counter()
        return seen
