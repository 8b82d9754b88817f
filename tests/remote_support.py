"""Helpers shared by the remote, push, fetch, pull and clone CLI tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.branching_support import commit, write


def bare(muse: Any, where: Path, name: str = "remote.muse") -> Path:
    """An empty filesystem remote made the documented way: `muse init --bare DIR`."""
    path = where / name
    result = muse("init", "--bare", str(path), cwd=where)
    assert result.exit_code == 0, result.output
    return path


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return result


def remote_refs(muse: Any, url: Path | str, cwd: Path) -> dict[str, str]:
    """What the remote holds, read through `muse ls-remote --json` (no repository needed)."""
    data = json.loads(ok(muse("ls-remote", str(url), "--json", cwd=cwd)).stdout)
    return {r["name"]: r["id"] for r in data["refs"]}


def published(muse: Any, work: Path, tmp_path: Path) -> tuple[Path, str]:
    """`work` with one commit, remote `origin` (a fresh bare dir), pushed with -u."""
    remote = bare(muse, tmp_path)
    write(work, "song.mid", "verse")
    head = commit(muse, work, "first take")
    ok(muse("remote", "add", "origin", str(remote), cwd=work))
    ok(muse("push", "-u", cwd=work))
    return remote, head


def clone_of(muse: Any, remote: Path, tmp_path: Path, name: str) -> Path:
    dest = tmp_path / name
    ok(muse("clone", str(remote), str(dest), cwd=tmp_path))
    return dest
