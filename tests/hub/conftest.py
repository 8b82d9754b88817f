"""Fixtures for the hub's own tests: a fresh repository on the session's hub, a counting client."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest

from muse.remote import RemoteOptions
from muse.repo import Repository
from remotes.hub_client import HubRemote
from tests.hub_prod import prod_storage
from tests.hub_server import HubServer, NewRepo, Storage
from tests.remotes.remote_support import commit_files, new_repo


@pytest.fixture(scope="session", params=["embedded", "pg-s3"])
def hub_server(request: pytest.FixtureRequest, hub_server: HubServer) -> HubServer:
    """Every hub test runs on both deployments: embedded (SQLite + a folder, the session's
    `hub_server`) and production (PostgreSQL + SeaweedFS, `hub_prod_server`)."""
    if request.param == "embedded":
        return hub_server
    prod: HubServer = request.getfixturevalue("hub_prod_server")
    return prod


@pytest.fixture(params=["embedded", "pg-s3"])
def fresh_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """A new, empty deployment for a test that starts (and kills) hubs of its own."""
    if request.param == "embedded":
        return Storage(data=tmp_path / "hub-data")
    return prod_storage(request.getfixturevalue("pg_server"),
                        request.getfixturevalue("s3_server"), tmp_path / "hub-prod")


@pytest.fixture
def hub_repo(hub_server: HubServer) -> NewRepo:
    return hub_server.new_repo()


class CountingTransport(httpx.HTTPTransport):
    """Counts every HTTP request a client sends, by method and path tail."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # Every PUT is an upload: to the hub's own endpoint or to a presigned bucket URL.
        tail = "upload" if request.method == "PUT" else request.url.path.rsplit("/", 1)[-1]
        self.counts[f"{request.method} {tail}"] += 1
        return super().handle_request(request)

    def take(self) -> Counter[str]:
        seen, self.counts = self.counts, Counter()
        return seen


def hub_remote(repo: NewRepo, *, token: str | None = None, inline: int | None = None,
               transport: httpx.BaseTransport | None = None) -> HubRemote:
    settings = {} if inline is None else {"inline-max": str(inline)}
    return HubRemote(repo.url, RemoteOptions(token=token if token is not None else
                                             repo.write_token, settings=settings),
                     transport=transport)


@pytest.fixture
def seeded_local(tmp_path: Path, muse_home: Path) -> Repository:
    repo = new_repo(tmp_path / "local")
    commit_files(repo, {"song.mid": b"MThd-verse", "stems/a.wav": b"RIFF" + bytes(5000)},
                 "first")
    return repo
