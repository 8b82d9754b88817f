"""`fetch --prune` and `remote.NAME.prune`: tracking refs of branches gone on the remote go."""

from __future__ import annotations

import json

import pytest

from tests.branching_support import ref, repo
from tests.remote_support import clone_of, ok, published
from tests.testkit import changes_nothing

GONE = "refs/remotes/origin/takes/one"


@pytest.fixture
def stale(muse, repo_dir, tmp_path):
    """origin had branch takes/one, fetched here; then another clone deleted it there."""
    remote, head = published(muse, repo_dir, tmp_path)
    ok(muse("push", "origin", "main:takes/one", cwd=repo_dir))
    assert ref(repo_dir, GONE) == head
    other = clone_of(muse, remote, tmp_path, "other")
    ok(muse("push", "origin", ":takes/one", cwd=other))
    return head


def test_fetch_without_prune_keeps_the_stale_ref(muse, repo_dir, stale):
    data = json.loads(ok(muse("fetch", "--json", cwd=repo_dir)).stdout)
    assert data["pruned"] == []
    assert ref(repo_dir, GONE) == stale


def test_fetch_prune_deletes_it_and_reports_it(muse, repo_dir, stale):
    result = ok(muse("fetch", "--prune", cwd=repo_dir))
    assert " - [deleted]" in result.stdout and "(none) -> origin/takes/one" in result.stdout
    assert ref(repo_dir, GONE) is None
    assert ref(repo_dir, "refs/remotes/origin/main") == stale  # live branches stay
    newest = next(repo(repo_dir).refs.reflog(GONE))
    assert (newest.old, newest.new, newest.message) == (stale, None, "fetch: prune: origin")


def test_fetch_prune_json(muse, repo_dir, stale):
    data = json.loads(ok(muse("fetch", "-p", "--json", cwd=repo_dir)).stdout)
    assert data["pruned"] == [GONE]
    assert {"name": GONE, "old": stale, "new": None, "status": "deleted",
            "reason": None} in data["refs"]


@pytest.mark.parametrize("key", ["remote.origin.prune", "fetch.prune"])
def test_the_prune_setting_prunes_and_no_prune_overrides_it(muse, repo_dir, stale, key):
    ok(muse("config", key, "true", cwd=repo_dir))
    ok(muse("fetch", "--no-prune", cwd=repo_dir))
    assert ref(repo_dir, GONE) == stale
    ok(muse("pull", cwd=repo_dir))  # pull's fetch follows the setting too
    assert ref(repo_dir, GONE) is None


def test_a_bad_prune_setting_is_refused_and_changes_nothing(muse, repo_dir, stale):
    ok(muse("config", "remote.origin.prune", "sometimes", cwd=repo_dir))
    result = changes_nothing(muse, repo_dir, "fetch", exit_code=7)
    assert "remote.origin.prune is 'sometimes', not true or false" in result.stderr
    assert ref(repo_dir, GONE) == stale


def test_prune_lets_a_branch_become_a_folder_of_branches(muse, repo_dir, tmp_path):
    """The remote replaced `takes` by `takes/one`: a plain fetch cannot store both as files
    (refused, nothing changed); with --prune the old one goes first."""
    published(muse, repo_dir, tmp_path)
    repo_ = repo(repo_dir)
    head = repo_.head()
    ok(muse("push", "origin", "main:takes/one", cwd=repo_dir))
    repo_.refs.update(GONE, head, None, "test: not fetched yet")
    repo_.refs.update("refs/remotes/origin/takes", None, head, "test: fetched long ago")
    changes_nothing(muse, repo_dir, "fetch", exit_code=4)
    ok(muse("fetch", "--prune", cwd=repo_dir))
    assert ref(repo_dir, "refs/remotes/origin/takes") is None
    assert ref(repo_dir, GONE) == head
