"""Revision syntax: HEAD, names, ids and prefixes, ~N and ^N, and the errors for bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from muse.errors import RevisionError
from muse.objects import Commit, Snapshot, SnapshotEntry, hash_bytes
from muse.repo import Repository
from muse.revisions import resolve
from tests.testkit import MuseRunner, tree_state


def store_commit(repo: Repository, parents: list[str], message: str, ts: int) -> Commit:
    snap = Snapshot.from_entries([SnapshotEntry("f", hash_bytes(message.encode()), 1)])
    commit = repo.make_commit(snap.id, parents, message, sign=False, timestamp=ts)
    with repo.store.batch() as batch:
        batch.add_bytes(snap.encode())
        batch.add_bytes(commit.encode())
    return commit


@pytest.fixture
def history(repo_dir: Path, muse_home: Path) -> dict[str, str]:
    """c1 ← c2 ← c3 (main) and c1 ← s1 (side); m = merge(c3, s1) on refs/heads/merged."""
    repo = Repository.find(repo_dir)
    c1 = store_commit(repo, [], "c1", 1000).id
    c2 = store_commit(repo, [c1], "c2", 2000).id
    c3 = store_commit(repo, [c2], "c3", 3000).id
    s1 = store_commit(repo, [c1], "s1", 2500).id
    m = store_commit(repo, [c3, s1], "merge", 4000).id
    refs = repo.refs
    refs.update("refs/heads/main", None, c3, "t")
    refs.update("refs/heads/side", None, s1, "t")
    refs.update("refs/heads/merged", None, m, "t")
    refs.update("refs/tags/v1", None, c2, "t")
    refs.update("refs/remotes/origin/main", None, c1, "t")
    return {"c1": c1, "c2": c2, "c3": c3, "s1": s1, "m": m}


@pytest.mark.parametrize("text, expected", [
    ("HEAD", "c3"), ("@", "c3"), ("main", "c3"), ("refs/heads/main", "c3"),
    ("HEAD~0", "c3"), ("HEAD~", "c2"), ("HEAD~1", "c2"), ("HEAD~2", "c1"), ("HEAD^", "c2"),
    ("HEAD^^", "c1"), ("HEAD^1", "c2"), ("HEAD^0", "c3"), ("main~1^", "c1"),
    ("v1", "c2"), ("refs/tags/v1", "c2"), ("origin/main", "c1"), ("side", "s1"),
    ("merged^", "c3"), ("merged^1", "c3"), ("merged^2", "s1"), ("merged^2~1", "c1"),
    ("merged~2", "c2"), ("merged^2^", "c1"),
])
def test_resolve(repo_dir: Path, history: dict[str, str], text: str, expected: str) -> None:
    assert resolve(Repository.find(repo_dir), text) == history[expected]


def test_full_and_abbreviated_ids(repo_dir: Path, history: dict[str, str]) -> None:
    repo = Repository.find(repo_dir)
    for oid in history.values():
        assert resolve(repo, oid) == oid
        assert resolve(repo, oid[:12]) == oid
        assert resolve(repo, oid[:12] + "~0") == oid
    assert resolve(repo, history["m"][:10] + "^2") == history["s1"]


@pytest.mark.parametrize("text, message", [
    ("nope", "unknown revision 'nope'"),
    ("HEAD~3", "goes past the first commit"),
    ("merged^3", "has no parent number 3"),
    ("HEAD^2", "has no parent number 2"),
    ("abc", "unknown revision 'abc'"),      # fewer than 4 digits never abbreviate
    ("0000000000", "unknown revision"),
    ("f" * 64, "no such object"),
    ("", "invalid revision"),
    (" HEAD", "invalid revision"),
])
def test_bad_revisions(repo_dir: Path, history: dict[str, str], text: str,
                       message: str) -> None:
    with pytest.raises(RevisionError, match=message) as info:
        resolve(Repository.find(repo_dir), text)
    assert info.value.exit_code == 2


def test_snapshot_id_is_not_a_commit(repo_dir: Path, history: dict[str, str]) -> None:
    repo = Repository.find(repo_dir)
    snapshot_id = repo.graph.commit(history["c1"]).snapshot
    with pytest.raises(RevisionError, match="not a commit"):
        resolve(repo, snapshot_id)


def test_ambiguous_name_branch_and_tag(repo_dir: Path, history: dict[str, str]) -> None:
    repo = Repository.find(repo_dir)
    repo.refs.update("refs/tags/side", None, history["c1"], "t")
    with pytest.raises(RevisionError, match="ambiguous name 'side'"):
        resolve(repo, "side")
    assert resolve(repo, "refs/tags/side") == history["c1"]
    assert resolve(repo, "refs/heads/side") == history["s1"]


def test_branch_named_like_an_id_prefix_is_ambiguous(repo_dir: Path,
                                                     history: dict[str, str]) -> None:
    repo = Repository.find(repo_dir)
    prefix = history["c2"][:6]
    repo.refs.update(f"refs/heads/{prefix}", None, history["c1"], "t")
    with pytest.raises(RevisionError, match="a ref and an object id prefix"):
        resolve(repo, prefix)


def _colliding_commits(repo: Repository) -> tuple[Commit, Commit]:
    """Two commits whose ids share their first 4 hex digits (found by trying timestamps)."""
    snap = Snapshot.from_entries([])
    seen: dict[str, Commit] = {}
    for ts in range(1, 200_000):
        commit = repo.make_commit(snap.id, [], "collide", sign=False, timestamp=ts)
        other = seen.setdefault(commit.id[:4], commit)
        if other is not commit:
            with repo.store.batch() as batch:
                batch.add_bytes(snap.encode())
                batch.add_bytes(other.encode())
                batch.add_bytes(commit.encode())
            return other, commit
    raise AssertionError("no collision found")


def test_ambiguous_abbreviation(repo_dir: Path, muse: MuseRunner) -> None:
    repo = Repository.find(repo_dir)
    a, b = _colliding_commits(repo)
    with pytest.raises(RevisionError, match="ambiguous revision") as info:
        resolve(repo, a.id[:4])
    assert a.id[:12] in info.value.message and b.id[:12] in info.value.message
    assert "more digits" in (info.value.hint or "")
    common = next(i for i in range(4, 64) if a.id[i] != b.id[i])
    assert resolve(repo, a.id[: common + 1]) == a.id
    # The CLI reports it with exit 2 and changes nothing.
    repo.refs.update("refs/heads/main", None, a.id, "t")
    before = tree_state(repo_dir)
    for args in (("rev-parse", a.id[:4]), ("log", a.id[:4]), ("show", a.id[:4]),
                 ("diff", a.id[:4])):
        res = muse(*args, cwd=repo_dir)
        assert res.exit_code == 2, args
        assert f"error: ambiguous revision '{a.id[:4]}'" in res.stderr
        assert "hint: give more digits of the id" in res.stderr
    assert tree_state(repo_dir) == before


def test_blob_prefix_does_not_count_as_a_commit(repo_dir: Path, history: dict[str, str]
                                                ) -> None:
    repo = Repository.find(repo_dir)
    with repo.store.batch() as batch:
        blob = batch.add_bytes(b"a blob")
    with pytest.raises(RevisionError, match="unknown revision"):
        resolve(repo, blob[:8])


def test_unborn_head(repo_dir: Path) -> None:
    with pytest.raises(RevisionError, match="HEAD does not point at a commit yet"):
        resolve(Repository.find(repo_dir), "HEAD")


def test_rev_parse_cli(muse: MuseRunner, repo_dir: Path, history: dict[str, str]) -> None:
    res = muse("rev-parse", "HEAD", "merged^2", "v1", cwd=repo_dir)
    assert res.exit_code == 0
    assert res.stdout.split() == [history["c3"], history["s1"], history["c2"]]
    res = muse("rev-parse", "--short", "HEAD", cwd=repo_dir)
    assert res.stdout.strip() == history["c3"][:12]
    bad = muse("rev-parse", "HEAD", "nope", cwd=repo_dir)
    assert bad.exit_code == 2 and bad.stdout == ""  # all or nothing
    assert "error: unknown revision 'nope'" in bad.stderr
    assert "hint:" in bad.stderr
