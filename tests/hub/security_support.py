"""Helpers for the hub's security tests: raw pushes over HTTP, repository state, admin shortcuts."""

from __future__ import annotations

import hashlib
import json
import struct
from typing import Any

import httpx

from remotes.hub.security_index import SecurityIndex
from remotes.hub.service import Hub
from remotes.hub.sql_index import Repo
from tests.hub_server import HubServer, NewRepo

MAIN = "refs/heads/main"


def inline_push(repo: NewRepo, bundle: bytes, new: str | None = None, *,
                token: str | None = None, name: str = MAIN) -> httpx.Response:
    """POST one bundle inside the confirm request, creating `name` at `new`."""
    meta = json.dumps({"bundle_id": hashlib.sha256(bundle).hexdigest(),
                       "updates": [{"name": name, "old": None, "new": new or "0" * 64}]})
    return httpx.post(f"{repo.api}/push/bundle/confirm", timeout=60,
                      headers={"Authorization": f"Bearer {token or repo.write_token}",
                               "Content-Type": "application/vnd.muse.push+bundle"},
                      content=struct.pack(">I", len(meta)) + meta.encode() + bundle)


def presign(repo: NewRepo, size: int, bundle_id: str = "a" * 64) -> httpx.Response:
    return httpx.post(f"{repo.api}/push/bundle/presign", timeout=30,
                      headers={"Authorization": f"Bearer {repo.write_token}"},
                      json={"bundle_id": bundle_id, "size_bytes": size})


def admin(server: HubServer, repo: NewRepo) -> tuple[Hub, Repo, SecurityIndex]:
    hub = server.admin()
    found = hub.index.repo(repo.owner, repo.name)
    assert found is not None
    return hub, found, hub.guard.rows


def state(server: HubServer, repo: NewRepo) -> tuple[Any, ...]:
    """What the repository shows: refs, packs and commits (for "nothing changed")."""
    hub, found, _ = admin(server, repo)
    return (hub.index.refs(found), sorted(hub.index.pack_rows(found)),
            sorted(hub.index.commit_graph(found)))


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert isinstance(body, dict) and "error" in body, response.text
    error: dict[str, Any] = body["error"]
    return error
