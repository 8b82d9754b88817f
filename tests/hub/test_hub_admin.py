"""`muse hub user|repo|token …` on the hub's storage, with or without a server running."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.hub_server import HubServer, Storage
from tests.testkit import MuseRunner


def _hub(muse: MuseRunner, data: Path, *args: str) -> tuple[int, str, str]:
    done = muse("hub", *args, "--data", str(data), cwd=data.parent)
    return done.exit_code, done.stdout, done.stderr


def test_admin_commands_set_up_a_repository_and_a_working_token(tmp_path: Path,
                                                                muse: MuseRunner) -> None:
    data = tmp_path / "hub"
    assert _hub(muse, data, "user", "add", "ada")[0] == 0
    assert _hub(muse, data, "repo", "create", "ada/song", "--public")[0] == 0
    code, out, err = _hub(muse, data, "token", "create", "--repo", "ada/song", "--scope",
                          "write", "--expires", "1d")
    assert code == 0 and out.strip().startswith("muse_") and "shown only once" in err
    token = out.strip()
    code, listed, _ = _hub(muse, data, "token", "list", "--json")
    rows = json.loads(listed)
    assert len(rows) == 1 and rows[0]["scope"] == "write" and token not in listed
    assert json.loads(_hub(muse, data, "repo", "list", "--json")[1]) == [
        {"name": "ada/song", "public": True}]

    server = HubServer.start(Storage(data=data), tmp_path)  # serves what the admin made
    try:
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{server.url}/api/v1/repos/ada/song/refs",
                         headers=auth).status_code == 200
        # Revoked while the server runs: refused at once.
        assert _hub(muse, data, "token", "revoke", rows[0]["id"])[0] == 0
        assert httpx.get(f"{server.url}/api/v1/repos/ada/song/refs",
                         headers=auth).status_code == 401
    finally:
        server.stop()


def test_admin_mistakes_are_one_line_with_a_hint_and_change_nothing(tmp_path: Path,
                                                                    muse: MuseRunner) -> None:
    data = tmp_path / "hub"
    assert _hub(muse, data, "user", "add", "ada")[0] == 0
    before = json.loads(_hub(muse, data, "repo", "list", "--json")[1])
    cases = [
        (("user", "add", "ada"), 4, "exists already"),
        (("user", "add", "bad name"), 2, "invalid user name"),
        (("repo", "create", "bob/song"), 2, "no user 'bob'"),
        (("repo", "create", "ada/../x"), 2, "invalid repository name"),
        (("repo", "create", "justaname"), 2, "invalid repository name"),
        (("token", "create", "--repo", "ada/none"), 2, "no repository ada/none"),
        (("token", "revoke", "nope"), 2, "no live token"),
    ]
    for args, exit_code, message in cases:
        code, _, err = _hub(muse, data, *args)
        assert code == exit_code and message in err, (args, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) <= 2
    assert _hub(muse, data, "repo", "create", "ada/song")[0] == 0
    code, _, err = _hub(muse, data, "token", "create", "--repo", "ada/song", "--expires", "0d")
    assert code == 2 and "invalid duration" in err
    code, _, err = _hub(muse, data, "repo", "create", "ada/song")
    assert code == 4 and "exists already" in err
    assert json.loads(_hub(muse, data, "repo", "list", "--json")[1]) == [
        *before, {"name": "ada/song", "public": False}]
    assert json.loads(_hub(muse, data, "token", "list", "--json")[1]) == []


def test_no_storage_option_is_a_usage_error(tmp_path: Path, muse: MuseRunner,
                                            monkeypatch: object) -> None:
    done = muse("hub", "repo", "list", cwd=tmp_path)
    assert done.exit_code == 2 and "no hub storage given" in done.stderr
