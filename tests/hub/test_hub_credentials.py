"""A token kept with `muse remote set-token`: used for that remote, private to the user."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.hub_server import NewRepo
from tests.testkit import MuseRunner


def test_a_stored_token_reaches_the_hub_and_stays_out_of_the_repository(
        tmp_path: Path, muse: MuseRunner, muse_home: Path, hub_repo: NewRepo,
        monkeypatch: object) -> None:
    work = tmp_path / "song"
    work.mkdir()
    assert muse("init", cwd=work).exit_code == 0
    (work / "take.wav").write_bytes(b"RIFF" + bytes(3000))
    assert muse("commit", "-m", "take", cwd=work).exit_code == 0
    assert muse("remote", "add", "origin", hub_repo.url, cwd=work).exit_code == 0
    refused = muse("push", "origin", "main", cwd=work)
    assert refused.exit_code == 6 and "MUSE_TOKEN" in refused.stderr  # hint names the fix

    stored = muse("remote", "set-token", "origin", cwd=work,
                  input=(hub_repo.write_token + "\n").encode())
    assert stored.exit_code == 0, stored.stderr
    path = muse_home / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {hub_repo.url: hub_repo.write_token}
    assert hub_repo.write_token not in (work / ".muse" / "config").read_text()

    pushed = muse("push", "origin", "main", cwd=work)
    assert pushed.exit_code == 0, pushed.stderr
    assert muse("remote", "forget-token", "origin", cwd=work).exit_code == 0
    again = muse("remote", "forget-token", "origin", cwd=work)
    assert again.exit_code == 2 and "no token is stored" in again.stderr
    assert json.loads(path.read_text()) == {}
