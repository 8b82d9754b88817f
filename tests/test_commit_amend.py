"""`muse commit --amend`: HEAD replaced by a commit with its parents, as git does it."""

from __future__ import annotations

import pytest

from muse.reflog import newest_first
from tests.branching_support import commit, diverged, repo, write
from tests.remote_support import ok
from tests.testkit import changes_nothing


def head_commit(root):
    found = repo(root)
    return found.graph.commit(found.head())


def test_a_new_message_keeps_tree_parents_and_author(muse, repo_dir, monkeypatch):
    write(repo_dir, "song.mid", "verse")
    first = commit(muse, repo_dir, "first")
    write(repo_dir, "song.mid", "chorus")
    second = commit(muse, repo_dir, "secnod take")
    old = repo(repo_dir).graph.commit(second)
    monkeypatch.setenv("MUSE_AUTHOR_NAME", "Someone Else")
    result = ok(muse("commit", "--amend", "-m", "second take", cwd=repo_dir))
    new = head_commit(repo_dir)
    assert repo(repo_dir).head() != second
    assert "] second take (signed)" in result.stdout
    assert new.parents == (first,) and new.snapshot == old.snapshot
    assert new.message == "second take"
    # The author and date are the amended commit's (git's default), not the amender's.
    assert (new.author_name, new.timestamp, new.tz_offset_minutes) == \
        (old.author_name, old.timestamp, old.tz_offset_minutes)
    assert new.signature is not None
    last = next(newest_first(repo(repo_dir).muse_dir, "refs/heads/main"))
    assert (last.old, last.new) == (second, repo(repo_dir).head())
    assert last.message == "commit (amend): second take"
    assert ok(muse("verify", cwd=repo_dir)).exit_code == 0


def test_changes_are_folded_in_and_the_message_kept(muse, repo_dir):
    write(repo_dir, "song.mid", "verse")
    first = commit(muse, repo_dir, "first")
    write(repo_dir, "bass.wav", b"\x00\x01" * 100)
    commit(muse, repo_dir, "add bass")
    write(repo_dir, "drums.wav", b"\x02" * 50)  # forgotten in the last commit
    ok(muse("commit", "--amend", cwd=repo_dir))
    ok(muse("commit", "--amend", "--no-edit", cwd=repo_dir))  # git's spelling, same thing
    new = head_commit(repo_dir)
    assert new.message == "add bass" and new.parents == (first,)
    paths = {e.path for e in repo(repo_dir).store.read_snapshot(new.snapshot).entries}
    assert paths == {"song.mid", "bass.wav", "drums.wav"}
    assert ok(muse("log", "--oneline", cwd=repo_dir)).stdout.count("\n") == 2


def test_reset_author_takes_you_and_now(muse, repo_dir, monkeypatch):
    write(repo_dir, "song.mid", "verse")
    commit(muse, repo_dir, "first")
    old = head_commit(repo_dir)
    monkeypatch.setenv("MUSE_AUTHOR_NAME", "Bea")
    ok(muse("commit", "--amend", "--reset-author", cwd=repo_dir))
    new = head_commit(repo_dir)
    assert new.author_name == "Bea" and new.timestamp >= old.timestamp
    assert new.parents == ()  # a root commit stays a root


def test_amending_a_merge_keeps_both_parents(muse, repo_dir):
    ids = diverged(muse, repo_dir)
    ok(muse("merge", "feature", "-m", "merge feature", cwd=repo_dir))
    merged = head_commit(repo_dir)
    ok(muse("commit", "--amend", "-m", "Merge the feature branch", cwd=repo_dir))
    new = head_commit(repo_dir)
    assert new.parents == merged.parents == (ids["main"], ids["feature"])
    assert new.snapshot == merged.snapshot


def test_an_amend_that_leaves_nothing_changed_needs_allow_empty(muse, repo_dir):
    write(repo_dir, "song.mid", "verse")
    commit(muse, repo_dir, "first")
    write(repo_dir, "song.mid", "chorus")
    commit(muse, repo_dir, "second")
    write(repo_dir, "song.mid", "verse")  # back to the parent's tree
    result = changes_nothing(muse, repo_dir, "commit", "--amend", exit_code=2)
    assert "would leave a commit that changes nothing" in result.stderr
    assert "--allow-empty" in result.stderr
    ok(muse("commit", "--amend", "--allow-empty", cwd=repo_dir))
    assert head_commit(repo_dir).message == "second"


@pytest.mark.parametrize("args, message", [
    (("--amend",), "nothing to amend: there is no commit yet"),
    (("--no-edit", "-m", "x"), "--no-edit goes with --amend"),
    (("--reset-author", "-m", "x"), "--reset-author goes with --amend"),
    (("--amend", "--no-edit", "-m", "x"), "--no-edit keeps HEAD's message"),
])
def test_bad_amends_change_nothing(muse, repo_dir, args, message):
    write(repo_dir, "song.mid", "verse")
    result = changes_nothing(muse, repo_dir, "commit", *args, exit_code=2)
    assert message in result.stderr


def test_no_amend_while_a_merge_is_half_done(muse, repo_dir):
    write(repo_dir, "song.mid", "base")
    commit(muse, repo_dir, "base")
    ok(muse("branch", "other", cwd=repo_dir))
    write(repo_dir, "song.mid", "ours")
    commit(muse, repo_dir, "ours")
    ok(muse("switch", "other", cwd=repo_dir))
    write(repo_dir, "song.mid", "theirs")
    commit(muse, repo_dir, "theirs")
    ok(muse("switch", "main", cwd=repo_dir))
    assert muse("merge", "other", cwd=repo_dir).exit_code == 1
    write(repo_dir, "song.mid", "settled")
    ok(muse("resolve", "song.mid", cwd=repo_dir))
    result = changes_nothing(muse, repo_dir, "commit", "--amend", exit_code=3)
    assert "a merge, cherry-pick or revert is in progress: cannot amend" in result.stderr


def test_git_habit_commit_am_records_the_whole_tree(muse, repo_dir):
    write(repo_dir, "song.mid", "verse")
    ok(muse("commit", "-am", "first", cwd=repo_dir))
    assert head_commit(repo_dir).message == "first"
