"""A real hub for the tests: `muse hub serve` (uvicorn) on a loopback port, as its own process.

`HubServer.start` runs the server on storage options (`--data DIR`, or
`--database` + `--blobs`), waits until /health answers and `stop` ends that one
process by PID. Admin work (users, repositories, tokens) goes straight to the
same storage, as `muse hub …` does. `HubHarness` joins the conformance suite.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from muse.remote import Remote, RemoteOptions
from remotes.hub.deploy import open_hub
from remotes.hub.service import Hub
from remotes.hub.tokens import issue_token
from tests.testkit import stop_process

HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class Storage:
    """Where a hub keeps its state: the options `serve` and the admin commands take."""

    data: Path | None = None
    database: str | None = None
    blobs: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)  # e.g. the S3 credentials

    def args(self) -> list[str]:
        out: list[str] = []
        for flag, value in (("--data", self.data), ("--database", self.database),
                            ("--blobs", self.blobs)):
            if value is not None:
                out += [flag, str(value)]
        return out

    def open(self) -> Hub:
        saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            return open_hub(self.data, self.database, self.blobs)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


@dataclass
class HubServer:
    """One running hub process and the storage it serves."""

    storage: Storage
    process: subprocess.Popen[bytes] | None
    url: str
    log: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def start(cls, storage: Storage, base: Path, *, env: Mapping[str, str] | None = None,
              extra: list[str] | None = None) -> HubServer:
        port = free_port()
        base.mkdir(parents=True, exist_ok=True)
        log = base / f"hub-{port}.log"
        environment = {**os.environ, **storage.env, **(env or {})}
        args = [sys.executable, "-m", "muse", "hub", "serve", *storage.args(), "--host", HOST,
                "--port", str(port), *(extra or [])]
        with open(log, "wb") as out:
            process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, env=environment,
                                       start_new_session=True)
        server = cls(storage, process, f"http://{HOST}:{port}", log, dict(env or {}))
        try:
            server.wait_until_ready()
        except BaseException:
            server.stop()
            raise
        return server

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the hub exited with {self.process.returncode}: "
                                   f"{self.tail()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the hub did not answer within {START_TIMEOUT:.0f}s: {self.tail()}")

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        stop_process(self.process, STOP_TIMEOUT)

    # -- admin, straight on the storage ----------------------------------------------------

    def admin(self) -> Hub:
        return self.storage.open()

    def new_repo(self, *, public: bool = False, owner: str | None = None) -> NewRepo:
        """A fresh repository with one write and one read token."""
        hub = self.admin()
        owner = owner or f"u{uuid.uuid4().hex[:10]}"
        if not hub.index.user_exists(owner):
            hub.index.add_user(owner)
        name = f"r{uuid.uuid4().hex[:10]}"
        repo = hub.index.create_repo(owner, name, public=public)
        _, write = issue_token(hub.index, owner, repo, "write")
        _, read = issue_token(hub.index, owner, repo, "read")
        return NewRepo(f"{self.url}/{owner}/{name}", owner, name, write, read)


@dataclass(frozen=True)
class NewRepo:
    url: str
    owner: str
    name: str
    write_token: str
    read_token: str

    @property
    def api(self) -> str:
        base, _, _ = self.url.rpartition(f"/{self.owner}/{self.name}")
        return f"{base}/api/v1/repos/{self.owner}/{self.name}"


class HubHarness:
    """A fresh repository on a running hub, for the conformance suite (RemoteHarness).

    Inline pushes are switched off (`inline-max` 0) so every push takes the
    presign + PUT + confirm path whose steps the suite injects faults into;
    tests/hub/ covers the inline path.
    """

    fault_points: tuple[str, ...] = ("presigned", "uploaded", "confirmed")
    lock_held_point: str | None = None  # no locks: refs move by CAS inside a transaction

    def __init__(self, server: HubServer) -> None:
        self.server = server
        self.repo = server.new_repo()
        self.url = self.repo.url

    def options(self) -> RemoteOptions:
        return RemoteOptions(token=self.repo.write_token, settings={"inline-max": "0"})

    def open(self, hook: Any = None) -> Remote:
        from remotes.hub_client import HubRemote

        return HubRemote(self.url, self.options(), hook=hook)

    def open_code(self) -> str:
        return ("from muse.remote import RemoteOptions\n"
                "from remotes.hub_client import HubRemote\n"
                f"remote = HubRemote({self.url!r}, RemoteOptions(token="
                f"{self.repo.write_token!r}, settings={{'inline-max': '0'}}), hook=hook)\n")

    def lock_is_held(self) -> bool:
        return False

    def _indexed(self) -> tuple[Hub, Any]:
        hub = self.server.admin()
        repo = hub.index.repo(self.repo.owner, self.repo.name)
        assert repo is not None
        return hub, repo

    def damage(self, content: bytes) -> None:
        hub, repo = self._indexed()
        sample = content[:64]
        for pack_id in hub.index.pack_rows(repo):
            with hub.blobs.open(pack_id) as stream:
                data = stream.read()
            at = data.find(sample)
            if at >= 0:
                damaged = data[:at] + bytes([data[at] ^ 1]) + data[at + 1:]
                self._rewrite(hub, pack_id, damaged)
                return
        raise AssertionError("no pack holds that content")

    def _rewrite(self, hub: Hub, pack_id: str, data: bytes) -> None:
        # As a failing disk would: the bytes under the key change, nothing else does.
        from remotes.hub.blobs import DirBlobs, bundle_key

        if isinstance(hub.blobs, DirBlobs):
            path = hub.blobs.root / bundle_key(pack_id)
            os.chmod(path, 0o644)
            path.write_bytes(data)
            return
        from remotes.hub.s3_blobs import S3Blobs

        assert isinstance(hub.blobs, S3Blobs), "this blob store cannot be damaged by the tests"
        bucket = hub.blobs.bucket
        bucket.client.put_object(Bucket=bucket.bucket, Key=bucket.prefix + bundle_key(pack_id),
                                 Body=data)

    def state(self) -> dict[str, bytes]:
        """Everything the repository shows: refs, index rows and the packs they name."""
        hub, repo = self._indexed()
        packs = hub.index.pack_rows(repo)
        out = {"refs": json.dumps(hub.index.refs(repo), sort_keys=True).encode(),
               "packs": json.dumps(sorted(packs.items())).encode(),
               "commits": json.dumps(sorted(hub.index.commit_graph(repo).items())).encode()}
        for pack_id in packs:
            with hub.blobs.open(pack_id) as stream:
                out[f"pack/{pack_id}"] = hashlib.sha256(stream.read()).hexdigest().encode()
        return out
