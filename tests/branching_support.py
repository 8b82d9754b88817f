"""Helpers shared by the branch, switch, merge and reset tests: write files, commit, read refs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from muse.repo import Repository


def write(root: Path, rel: str, data: str | bytes, *, executable: bool = False) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    os.chmod(path, 0o755 if executable else 0o644)
    return path


def commit(muse: Any, root: Path, message: str, *extra: str) -> str:
    result = muse("commit", "-m", message, *extra, cwd=root)
    assert result.exit_code == 0, result.output
    head = repo(root).head()
    assert head is not None
    return head


def repo(root: Path) -> Repository:
    return Repository.find(root)


def ref(root: Path, name: str) -> str | None:
    return repo(root).refs.read(name)


def head_file(root: Path) -> str:
    return (root / ".muse" / "HEAD").read_text().strip()


def read(root: Path, rel: str) -> str:
    return (root / rel).read_text()


def is_executable(path: Path) -> bool:
    return bool(path.stat().st_mode & 0o100)


def diverged(muse: Any, root: Path) -> dict[str, str]:
    """main and feature share `base`; each then changes a different file.

    base: song.mid, notes.txt   feature: adds bass.wav, edits notes.txt   main: edits song.mid
    """
    write(root, "song.mid", "song v1")
    write(root, "notes.txt", "notes v1")
    base = commit(muse, root, "base")
    assert muse("branch", "feature", cwd=root).exit_code == 0
    assert muse("switch", "feature", cwd=root).exit_code == 0
    write(root, "bass.wav", "bass")
    write(root, "notes.txt", "notes v2 (feature)")
    feature = commit(muse, root, "feature work")
    assert muse("switch", "main", cwd=root).exit_code == 0
    write(root, "song.mid", "song v2 (main)")
    main = commit(muse, root, "main work")
    return {"base": base, "feature": feature, "main": main}


def unbundled(muse: Any, base: Path, bundle: Path) -> Repository:
    """`bundle` verified, then unbundled into a new repository `base/other`; that one."""
    assert muse("bundle", "verify", str(bundle), cwd=base).exit_code == 0
    other = base / "other"
    other.mkdir()
    assert muse("init", cwd=other).exit_code == 0
    done = muse("bundle", "unbundle", str(bundle), cwd=other)
    assert done.exit_code == 0, done.output
    return Repository.find(other)
