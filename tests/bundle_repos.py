"""Test helpers: small repositories with history, built through the core (fast, no CLI)."""

from __future__ import annotations

import io
from pathlib import Path

from muse.bundle import BundleSummary, plan_bundle, write_bundle
from muse.committing import commit_worktree
from muse.repo import Repository


def make_repo(path: Path) -> Repository:
    path.mkdir(parents=True, exist_ok=True)
    return Repository.init(path)


def commit_files(repo: Repository, files: dict[str, bytes | None], message: str, *,
                 sign: bool = True) -> str:
    """Write (or delete, for None) files in the working tree and commit them."""
    assert repo.root is not None
    for name, data in files.items():
        target = repo.root / name
        if data is None:
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return commit_worktree(repo, message, sign=sign).id


def bundle_bytes(repo: Repository, include: list[str], exclude: list[str] | None = None,
                 refs: dict[str, str] | None = None) -> tuple[bytes, BundleSummary]:
    refs = refs if refs is not None else {"refs/heads/main": include[0]}
    plan = plan_bundle(repo.graph, refs, include, exclude or [])
    out = io.BytesIO()
    summary = write_bundle(repo.store, plan, out)
    return out.getvalue(), summary


def history(repo: Repository) -> list[str]:
    """Three commits on main: two files, then a change and an addition, then a deletion."""
    ids = [commit_files(repo, {"a.mid": b"A" * 100, "stems/b.wav": b"B" * 3000}, "one")]
    ids.append(commit_files(repo, {"a.mid": b"A2" * 60, "c.txt": b"c\n"}, "two"))
    ids.append(commit_files(repo, {"c.txt": None}, "three", sign=False))
    return ids
