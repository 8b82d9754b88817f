"""`muse branch -m` (rename, with upstream and reflog), `-D`, and `-r` / `-a` listings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.branching_support import commit, head_file, ref, repo, write
from tests.remote_support import clone_of, ok, published
from tests.testkit import changes_nothing


@pytest.fixture
def two_branches(muse, repo_dir: Path) -> dict[str, str]:
    write(repo_dir, "a.mid", "one")
    first = commit(muse, repo_dir, "first")
    ok(muse("switch", "-c", "idea", cwd=repo_dir))
    write(repo_dir, "idea.wav", "riff")
    idea = commit(muse, repo_dir, "idea")
    ok(muse("switch", "main", cwd=repo_dir))
    return {"first": first, "idea": idea}


# -- rename ---------------------------------------------------------------------------


def test_rename_moves_the_branch_its_reflog_and_keeps_head_elsewhere(muse, repo_dir,
                                                                     two_branches):
    before = [e.message for e in repo(repo_dir).refs.reflog("refs/heads/idea")]
    result = ok(muse("branch", "-m", "idea", "takes/idea", cwd=repo_dir))
    assert result.stdout == "Renamed branch idea to takes/idea\n"
    assert ref(repo_dir, "refs/heads/idea") is None
    assert ref(repo_dir, "refs/heads/takes/idea") == two_branches["idea"]
    assert head_file(repo_dir) == "ref: refs/heads/main"
    assert not (repo_dir / ".muse/logs/refs/heads/idea").exists()
    after = [e.message for e in repo(repo_dir).refs.reflog("refs/heads/takes/idea")]
    assert after == ["branch: renamed refs/heads/idea to refs/heads/takes/idea", *before]
    assert ok(muse("rev-parse", "takes/idea@{1}", cwd=repo_dir)).stdout.strip() == \
        two_branches["idea"]


def test_rename_of_the_current_branch_moves_head_and_its_upstream(muse, repo_dir, tmp_path):
    _remote, head = published(muse, repo_dir, tmp_path)  # main tracks origin/main
    ok(muse("branch", "-m", "trunk", cwd=repo_dir))
    assert head_file(repo_dir) == "ref: refs/heads/trunk"
    config = repo(repo_dir).config
    assert config.get("branch.trunk.remote") == "origin"
    assert config.get("branch.trunk.merge") == "refs/heads/main"
    assert config.get("branch.main.remote") is None
    assert ok(muse("status", "--json", cwd=repo_dir)).stdout.count('"trunk"') == 1
    assert ref(repo_dir, "refs/heads/trunk") == head


def test_rename_before_the_first_commit_renames_the_unborn_branch(muse, repo_dir):
    ok(muse("branch", "-m", "trunk", cwd=repo_dir))
    assert head_file(repo_dir) == "ref: refs/heads/trunk"
    write(repo_dir, "a.txt", "a")
    commit(muse, repo_dir, "first")
    assert ref(repo_dir, "refs/heads/trunk") is not None


@pytest.mark.parametrize(("args", "code", "message"), [
    (("-m", "idea", "main"), 4, "a branch named 'main' already exists"),
    (("-m", "ghost", "new"), 2, "no branch named 'ghost'"),
    (("-m", "idea", "bad..name"), 2, "invalid branch name 'bad..name'"),
    (("-m", "idea", "main/sub"), 2, "clashes with existing branch 'main'"),
    (("-m", "-f", "idea", "main"), 2, "-m does not replace an existing branch"),
    (("-m", "-d", "idea"), 2, "cannot be combined"),
    (("-m",), 2, "which branch?"),
])
def test_bad_renames_are_refused_and_change_nothing(muse, repo_dir, two_branches, args,
                                                    code, message):
    result = changes_nothing(muse, repo_dir, "branch", *args, exit_code=code)
    assert message in result.stderr


def test_rename_on_a_detached_head_needs_the_old_name(muse, repo_dir, two_branches):
    ok(muse("switch", "--detach", "HEAD", cwd=repo_dir))
    result = changes_nothing(muse, repo_dir, "branch", "-m", "new", exit_code=2)
    assert "HEAD is detached: which branch to rename?" in result.stderr


# -- delete ---------------------------------------------------------------------------


def test_minus_d_refuses_unmerged_with_a_hint_naming_minus_capital_d(muse, repo_dir,
                                                                    two_branches):
    result = changes_nothing(muse, repo_dir, "branch", "-d", "idea", exit_code=4)
    assert "`muse branch -D idea`" in result.stderr
    done = ok(muse("branch", "-D", "idea", cwd=repo_dir))
    assert done.stdout == f"Deleted branch idea (was {two_branches['idea'][:12]})\n"
    assert ref(repo_dir, "refs/heads/idea") is None


def test_minus_capital_d_still_refuses_the_current_branch(muse, repo_dir, two_branches):
    result = changes_nothing(muse, repo_dir, "branch", "-D", "main", exit_code=4)
    assert "cannot delete the current branch 'main'" in result.stderr


def test_deleting_a_branch_drops_its_upstream_settings(muse, repo_dir, tmp_path):
    published(muse, repo_dir, tmp_path)
    ok(muse("switch", "-c", "other", cwd=repo_dir))
    ok(muse("branch", "-m", "main", "old-main", cwd=repo_dir))
    ok(muse("branch", "-D", "old-main", cwd=repo_dir))
    assert repo(repo_dir).config.get("branch.old-main.remote") is None


# -- listing remote-tracking branches ---------------------------------------------------


def test_minus_r_and_minus_a_list_remote_tracking_branches(muse, repo_dir, tmp_path):
    remote, head = published(muse, repo_dir, tmp_path)
    ok(muse("push", "origin", "main:takes/one", cwd=repo_dir))
    clone = clone_of(muse, remote, tmp_path, "clone")
    assert ok(muse("branch", "-r", cwd=clone)).stdout == "  origin/main\n  origin/takes/one\n"
    assert ok(muse("branch", "-a", cwd=clone)).stdout == (
        "* main\n  remotes/origin/main\n  remotes/origin/takes/one\n")
    data = json.loads(ok(muse("branch", "-a", "--json", cwd=clone)).stdout)
    assert data == [
        {"name": "main", "commit": head, "current": True, "remote": False},
        {"name": "origin/main", "commit": head, "current": False, "remote": True},
        {"name": "origin/takes/one", "commit": head, "current": False, "remote": True},
    ]
    result = changes_nothing(muse, clone, "branch", "-r", "x", exit_code=2)
    assert "take no NAME" in result.stderr
