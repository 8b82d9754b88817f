"""Who may do what on the real hub: every route of the OpenAPI document, with and without tokens."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from muse.repo import Repository
from muse.transfer import push
from remotes.hub.sql_index import TokenRow
from remotes.hub.tokens import token_hash
from tests.hub.conftest import hub_remote
from tests.hub_server import HubServer, NewRepo
from tests.remotes.remote_support import MAIN

ZERO = "0" * 64


def _routes(server: HubServer) -> list[tuple[str, str, dict[str, Any]]]:
    document = httpx.get(server.url + "/openapi.json").json()
    return [(method.upper(), path, op) for path, item in document["paths"].items()
            for method, op in item.items() if method != "parameters"]


def _call(server: HubServer, repo: NewRepo, method: str, path: str,
          token: str | None) -> httpx.Response:
    url = server.url + path.replace("{owner}", repo.owner).replace("{name}", repo.name) \
        .replace("{pack_id}", ZERO).replace("{ticket}", "x.y")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body: dict[str, Any] = {"bundle_id": ZERO, "size_bytes": 10, "wants": [], "haves": [],
                            "updates": [{"name": MAIN, "old": None, "new": ZERO}]}
    return httpx.request(method, url, headers=headers,
                         **({"json": body} if method in ("POST",) else {}))


def _writes(op: dict[str, Any], method: str) -> bool:
    return method in ("POST", "PUT") and "fetch" not in op["summary"].lower() and \
        "packs holding" not in op["summary"]


def test_the_document_lists_every_route_the_server_has(hub_server: HubServer) -> None:
    paths = {path for _, path, _ in _routes(hub_server)}
    assert {"/health", "/api/v1/repos/{owner}/{name}/refs",
            "/api/v1/repos/{owner}/{name}/push/bundle/presign",
            "/api/v1/repos/{owner}/{name}/push/bundle/confirm",
            "/api/v1/repos/{owner}/{name}/fetch",
            "/api/v1/repos/{owner}/{name}/packs/{pack_id}",
            "/api/v1/uploads/{ticket}"} == paths


def test_a_private_repository_is_invisible_without_a_token(hub_server: HubServer,
                                                           hub_repo: NewRepo) -> None:
    missing = NewRepo(hub_server.url + "/nobody/nothing", "nobody", "nothing", "", "")
    for method, path, _ in _routes(hub_server):
        if "{owner}" not in path:
            continue
        private = _call(hub_server, hub_repo, method, path, None)
        absent = _call(hub_server, missing, method, path, None)
        # Same status, same body: a stranger cannot tell a private repository exists.
        assert private.status_code == absent.status_code == 404, path
        named = private.text.replace(f"{hub_repo.owner}/{hub_repo.name}", "OWNER/NAME")
        assert named == absent.text.replace("nobody/nothing", "OWNER/NAME"), path


def test_a_read_token_reads_and_every_write_refuses(hub_server: HubServer,
                                                    hub_repo: NewRepo) -> None:
    for method, path, op in _routes(hub_server):
        if "{owner}" not in path:
            continue
        answer = _call(hub_server, hub_repo, method, path, hub_repo.read_token)
        if _writes(op, method):
            assert answer.status_code == 403, path
            assert answer.json()["error"]["code"] == "remote-forbidden"
        else:
            assert answer.status_code != 403 and answer.status_code < 500, path


def test_a_public_repository_reads_without_a_token_but_never_writes(
        hub_server: HubServer) -> None:
    repo = hub_server.new_repo(public=True)
    for method, path, op in _routes(hub_server):
        if "{owner}" not in path:
            continue
        answer = _call(hub_server, repo, method, path, None)
        if _writes(op, method):
            assert answer.status_code == 401 and answer.json()["error"]["code"] == "remote-auth"
        else:
            assert answer.status_code in (200, 400, 404), path
    assert httpx.get(f"{repo.api}/refs").json()["refs"] == {}


def test_a_token_for_another_repository_is_no_token(hub_server: HubServer,
                                                    hub_repo: NewRepo) -> None:
    other = hub_server.new_repo()
    answer = httpx.get(f"{hub_repo.api}/refs",
                       headers={"Authorization": f"Bearer {other.write_token}"})
    assert answer.status_code == 404


@pytest.mark.parametrize("header", ["Bearer muse_unknown", "Basic abc", "Bearer", "token"])
def test_a_bad_authorization_header_is_401(hub_repo: NewRepo, header: str) -> None:
    answer = httpx.get(f"{hub_repo.api}/refs", headers={"Authorization": header})
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "remote-auth"


def test_revoked_and_expired_tokens_are_refused_at_once(tmp_path: Path, hub_server: HubServer,
                                                        hub_repo: NewRepo,
                                                        seeded_local: Repository) -> None:
    hub = hub_server.admin()
    repo = hub.index.repo(hub_repo.owner, hub_repo.name)
    assert repo is not None
    push(seeded_local, hub_remote(hub_repo), [(MAIN, MAIN)])
    (row,) = [t for t in hub.index.tokens(repo) if t.hash == token_hash(hub_repo.write_token)]
    assert hub.index.revoke_token(row.id)
    answer = httpx.get(f"{hub_repo.api}/refs",
                       headers={"Authorization": f"Bearer {hub_repo.write_token}"})
    assert answer.status_code == 401 and "revoked" in answer.json()["error"]["message"]

    plain = "muse_expired-token-for-the-test"
    hub.index.add_token(TokenRow("expired0", token_hash(plain), hub_repo.owner, repo.id,
                                 "read", 1, int(time.time()) - 1, None, ""))
    answer = httpx.get(f"{hub_repo.api}/refs", headers={"Authorization": f"Bearer {plain}"})
    assert answer.status_code == 401 and "expired" in answer.json()["error"]["message"]


def test_tokens_are_stored_only_as_hashes(hub_server: HubServer, hub_repo: NewRepo) -> None:
    for raw in _index_bytes(hub_server):
        assert hub_repo.write_token.encode() not in raw
        assert hub_repo.read_token.encode() not in raw


def _index_bytes(server: HubServer) -> list[bytes]:
    """Everything the hub's index database holds: its files, or (PostgreSQL) a dump."""
    storage = server.storage
    if storage.data is not None:
        return [path.read_bytes() for path in storage.data.rglob("index.sqlite3*")]
    assert storage.database is not None
    import psycopg

    with psycopg.connect(storage.database) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
        dumped = [repr(conn.execute(f"SELECT * FROM {t}").fetchall()).encode() for t in tables]
    assert any(b"write" in d for d in dumped)  # the dump does hold the token rows
    return dumped


def test_unknown_routes_and_methods_answer_json_errors(hub_server: HubServer) -> None:
    assert httpx.get(hub_server.url + "/nope").json()["error"]["code"] == "not-found"
    answer = httpx.delete(hub_server.url + "/health")
    assert answer.status_code == 405 and answer.json()["error"]["code"] == "usage"
