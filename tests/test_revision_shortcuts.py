"""The git shortcuts a user types every day: `switch -`, `@{-N}`, `@{u}`, `stash@{N}`, `log -N`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.branching_support import commit, head_file, ref, write
from tests.testkit import changes_nothing


@pytest.fixture
def two_branches(muse, repo_dir: Path) -> dict[str, str]:
    """main: m1 ← m2; dev from m1: d1. HEAD on main, having been on dev once."""
    write(repo_dir, "song.mid", "v1")
    m1 = commit(muse, repo_dir, "m1")
    assert muse("switch", "-c", "dev", cwd=repo_dir).exit_code == 0
    write(repo_dir, "bass.wav", b"\x00bass")
    d1 = commit(muse, repo_dir, "d1")
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    write(repo_dir, "song.mid", "v2")
    m2 = commit(muse, repo_dir, "m2")
    return {"m1": m1, "m2": m2, "d1": d1}


def log_ids(muse, root: Path, *args: str) -> list[str]:
    result = muse("log", "--oneline", *args, cwd=root)
    assert result.exit_code == 0, result.output
    return [line.split()[0] for line in result.stdout.splitlines()]


def test_switch_dash_goes_back_and_forth(muse, repo_dir, two_branches):
    back = muse("switch", "-", cwd=repo_dir)
    assert back.exit_code == 0, back.output
    assert "Switched to branch 'dev'" in back.stdout
    assert head_file(repo_dir) == "ref: refs/heads/dev"
    assert (repo_dir / "bass.wav").exists()
    assert muse("switch", "-", cwd=repo_dir).exit_code == 0
    assert head_file(repo_dir) == "ref: refs/heads/main"
    assert not (repo_dir / "bass.wav").exists()


def test_at_minus_n_names_the_branch_as_it_is_now(muse, repo_dir, two_branches):
    assert muse("switch", "dev", cwd=repo_dir).exit_code == 0
    write(repo_dir, "keys.mid", "keys")
    d2 = commit(muse, repo_dir, "d2")
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    # @{-1} is dev where it is now (d2), not where it was when HEAD left it.
    assert log_ids(muse, repo_dir, "-1", "@{-1}") == [d2[:12]]
    # Two switches ago HEAD left main (for dev).
    assert log_ids(muse, repo_dir, "-1", "@{-2}") == [two_branches["m2"][:12]]


def test_switch_back_to_a_detached_commit_detaches(muse, repo_dir, two_branches):
    m1 = two_branches["m1"]
    assert muse("switch", "--detach", m1, cwd=repo_dir).exit_code == 0
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    back = muse("switch", "-", cwd=repo_dir)
    assert back.exit_code == 0, back.output
    assert head_file(repo_dir) == m1


def test_too_few_switches_is_refused_and_changes_nothing(muse, repo_dir, two_branches):
    result = changes_nothing(muse, repo_dir, "switch", "@{-9}", exit_code=2)
    assert "HEAD's reflog records only 2 switches" in result.stderr
    assert "muse reflog" in result.stderr
    result = changes_nothing(muse, repo_dir, "log", "@{-0}", exit_code=2)
    assert "invalid revision '@{-0}'" in result.stderr


def test_switch_dash_in_a_fresh_repository(muse, repo_dir):
    write(repo_dir, "a.txt", "a")
    commit(muse, repo_dir, "first")
    result = changes_nothing(muse, repo_dir, "switch", "-", exit_code=2)
    assert "records only 0 switches" in result.stderr


def test_upstream_is_the_fetched_tracking_ref(muse, repo_dir, two_branches, tmp_path):
    remote = tmp_path / "song.muse"
    assert muse("init", "--bare", str(remote), cwd=tmp_path).exit_code == 0
    assert muse("remote", "add", "origin", str(remote), cwd=repo_dir).exit_code == 0
    assert muse("push", "-u", "origin", "main", cwd=repo_dir).exit_code == 0
    tracking = ref(repo_dir, "refs/remotes/origin/main")
    assert tracking == two_branches["m2"]
    write(repo_dir, "song.mid", "v3")
    m3 = commit(muse, repo_dir, "m3")
    # What is not pushed yet: the classic `log @{u}..`.
    assert log_ids(muse, repo_dir, "@{u}..") == [m3[:12]]
    assert log_ids(muse, repo_dir, "-1", "main@{upstream}") == [tracking[:12]]


@pytest.mark.parametrize("revision, message", [
    ("dev@{u}", "branch 'dev' has no upstream"),
    ("nosuch@{u}", "no branch named 'nosuch'"),
])
def test_upstream_errors(muse, repo_dir, two_branches, revision, message):
    result = changes_nothing(muse, repo_dir, "log", revision, exit_code=2)
    assert message in result.stderr and "hint:" in result.stderr


def test_upstream_needs_a_branch_and_a_fetch(muse, repo_dir, two_branches):
    assert muse("config", "branch.main.remote", "origin", cwd=repo_dir).exit_code == 0
    assert muse("config", "branch.main.merge", "refs/heads/main", cwd=repo_dir).exit_code == 0
    result = changes_nothing(muse, repo_dir, "log", "@{u}", exit_code=2)
    assert "origin/main has not been fetched" in result.stderr
    assert muse("switch", "--detach", "HEAD", cwd=repo_dir).exit_code == 0
    result = changes_nothing(muse, repo_dir, "log", "@{u}", exit_code=2)
    assert "HEAD is detached" in result.stderr


def test_stash_entries_are_revisions(muse, repo_dir, two_branches):
    write(repo_dir, "song.mid", "unsaved take")
    assert muse("stash", "push", "-m", "idea", cwd=repo_dir).exit_code == 0
    shown = muse("show", "--stat", "stash@{0}", cwd=repo_dir)
    assert shown.exit_code == 0, shown.output
    assert "idea" in shown.stdout and "song.mid" in shown.stdout
    diff = muse("diff", "stash@{0}~1", "stash@{0}", cwd=repo_dir)
    assert diff.exit_code == 0 and "unsaved take" in diff.stdout
    result = changes_nothing(muse, repo_dir, "show", "stash@{1}", exit_code=2)
    assert "no stash entry stash@{1}: there is 1" in result.stderr


def test_a_branch_called_stash_keeps_its_reflog_meaning(muse, repo_dir, two_branches):
    assert muse("branch", "stash", "HEAD~1", cwd=repo_dir).exit_code == 0
    assert log_ids(muse, repo_dir, "-1", "stash@{0}") == [two_branches["m1"][:12]]


def test_log_and_reflog_take_minus_n(muse, repo_dir, two_branches):
    assert log_ids(muse, repo_dir, "-1") == [two_branches["m2"][:12]]
    assert log_ids(muse, repo_dir, "-2", "dev") == [two_branches["d1"][:12],
                                                      two_branches["m1"][:12]]
    assert log_ids(muse, repo_dir, "-n", "1") == log_ids(muse, repo_dir, "-1")
    shown = muse("reflog", "-1", cwd=repo_dir)
    assert shown.exit_code == 0 and len(shown.stdout.splitlines()) == 1
    # After `--` a word like `-1` is a path, never a count.
    write(repo_dir, "-1", "a file called -1")
    commit(muse, repo_dir, "odd name")
    assert len(log_ids(muse, repo_dir, "--", "-1")) == 1
