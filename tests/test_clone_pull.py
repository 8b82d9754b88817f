"""`muse clone`, `muse fetch` and `muse pull` through a filesystem remote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.branching_support import commit, read, ref, repo, write
from tests.remote_support import bare, clone_of, ok, published
from tests.testkit import changes_nothing, tree_state

# -- clone -------------------------------------------------------------------------------


def test_clone_copies_history_files_and_sets_up_origin(muse, repo_dir, tmp_path):
    remote, head = published(muse, repo_dir, tmp_path)
    write(repo_dir, "stems/bass.wav", b"\x00\xff" * 4000, executable=False)
    second = commit(muse, repo_dir, "bass")
    ok(muse("push", cwd=repo_dir))
    result = ok(muse("clone", str(remote), cwd=tmp_path))
    dest = tmp_path / "remote"  # remote.muse minus its suffix
    assert f"Cloned into remote: on branch main at {second[:12]}" in result.stdout
    assert read(dest, "song.mid") == "verse"
    assert (dest / "stems/bass.wav").read_bytes() == b"\x00\xff" * 4000
    cloned = repo(dest)
    assert cloned.head() == second
    assert cloned.config.get("remote.origin.url") == str(remote)
    assert cloned.config.get("branch.main.remote") == "origin"
    assert cloned.config.get("branch.main.merge") == "refs/heads/main"
    assert ref(dest, "refs/remotes/origin/main") == second
    assert ok(muse("status", "--short", cwd=dest)).stdout == ""
    log = ok(muse("log", "--oneline", cwd=dest)).stdout
    assert log == ok(muse("log", "--oneline", cwd=repo_dir)).stdout
    assert head in ok(muse("log", "--json", cwd=dest)).stdout


def test_clone_json_names_the_new_repository(muse, repo_dir, tmp_path):
    remote, head = published(muse, repo_dir, tmp_path)
    result = ok(muse("clone", f"file://{remote}", "mine", "-o", "studio", "--json",
                     cwd=tmp_path))
    data = json.loads(result.stdout)
    assert data == {"url": f"file://{remote}", "path": str(tmp_path / "mine"),
                    "remote": "studio", "branch": "main", "head": head}
    assert result.stderr == ""
    assert ref(tmp_path / "mine", "refs/remotes/studio/main") == head


def test_clone_of_an_empty_remote(muse, tmp_path):
    remote = bare(muse, tmp_path, "empty.muse")
    result = ok(muse("clone", str(remote), cwd=tmp_path))
    assert "Cloned an empty repository" in result.stdout
    assert repo(tmp_path / "empty").head() is None


def test_clone_refuses_a_non_empty_destination(muse, repo_dir, tmp_path):
    remote, _ = published(muse, repo_dir, tmp_path)
    dest = tmp_path / "taken"
    dest.mkdir()
    (dest / "mine.txt").write_text("keep me")
    result = changes_nothing(muse, tmp_path, "clone", str(remote), str(dest), exit_code=2,
                             root=dest)
    assert f"error: destination {dest} already exists and is not an empty directory" \
        in result.stderr


@pytest.mark.parametrize("words", [("nowhere",), ("file://{tmp}/nowhere",),
                                   ("nowhere", "nowhere"), ("nowhere", "sub/../nowhere")])
def test_clone_of_a_path_that_is_not_there_creates_nothing(muse, tmp_path, words):
    """The source path names the folder clone would create: it used to be made, then
    read back as an empty remote, and "cloned" from itself (exit 0)."""
    words = tuple(w.format(tmp=tmp_path) for w in words)
    result = changes_nothing(muse, tmp_path, "clone", *words, exit_code=6)
    assert f"error: no Muse remote at {tmp_path / 'nowhere'}" in result.stderr
    assert "hint: create one with `muse init --bare" in result.stderr
    assert not (tmp_path / "nowhere").exists()


def test_clone_of_an_empty_folder_into_itself_is_refused(muse, tmp_path):
    (tmp_path / "empty").mkdir()
    for words in (("empty",), ("empty", "empty"), ("empty", "empty/sub")):
        result = changes_nothing(muse, tmp_path, "clone", *words,
                                 exit_code=2 if words[-1] == "empty" else 6)
        assert "Traceback" not in result.output
    assert list((tmp_path / "empty").iterdir()) == []
    result = muse("clone", "empty", cwd=tmp_path)
    assert f"error: cannot clone {tmp_path / 'empty'} into itself" in result.stderr
    assert "hint: name another directory" in result.stderr


def test_clone_refuses_a_bad_remote_name(muse, repo_dir, tmp_path):
    remote, _ = published(muse, repo_dir, tmp_path)
    result = muse("clone", str(remote), "x", "-o", "a/b", cwd=tmp_path)
    assert result.exit_code == 2
    assert "error: invalid remote name 'a/b'" in result.stderr
    assert not (tmp_path / "x").exists()


# -- fetch -------------------------------------------------------------------------------


def _advance_remote(muse, remote: Path, tmp_path: Path, name: str = "other") -> tuple[Path, str]:
    """Another clone pushes a new commit on main: returns (that clone, the commit)."""
    other = clone_of(muse, remote, tmp_path, name)
    write(other, "song.mid", "verse\nchorus")
    write(other, "lyrics.txt", "la la")
    new = commit(muse, other, "chorus")
    ok(muse("push", cwd=other))
    return other, new


def test_fetch_updates_tracking_refs_not_the_branch(muse, repo_dir, tmp_path):
    remote, head = published(muse, repo_dir, tmp_path)
    _, new = _advance_remote(muse, remote, tmp_path)
    ok(muse("tag", "v1", cwd=tmp_path / "other"))
    ok(muse("push", "--tags", cwd=tmp_path / "other"))
    result = ok(muse("fetch", cwd=repo_dir))
    assert f"From {remote}" in result.stdout
    assert f"   {head[:12]}..{new[:12]}  main -> origin/main" in result.stdout
    assert " * [new tag]" in result.stdout and "v1 -> v1" in result.stdout
    assert "Received 1 commit" in result.stdout
    assert ref(repo_dir, "refs/remotes/origin/main") == new
    assert ref(repo_dir, "refs/tags/v1") == new
    assert repo(repo_dir).head() == head  # the branch and tree are untouched
    assert read(repo_dir, "song.mid") == "verse"
    assert ok(muse("fetch", cwd=repo_dir)).stdout == "origin: up to date\n"


def test_fetch_json_and_all(muse, repo_dir, tmp_path):
    remote, head = published(muse, repo_dir, tmp_path)
    second = bare(muse, tmp_path, "second.muse")
    ok(muse("remote", "add", "second", str(second), cwd=repo_dir))
    _, new = _advance_remote(muse, remote, tmp_path)
    data = json.loads(ok(muse("fetch", "--json", cwd=repo_dir)).stdout)
    assert list(data) == ["remote", "url", "refs", "commits", "bytes", "pruned"]
    assert data["remote"] == "origin" and data["commits"] == 1 and data["bytes"] > 0
    assert data["refs"] == [{"name": "refs/remotes/origin/main", "old": head, "new": new,
                             "status": "fast-forward", "reason": None}]
    both = json.loads(ok(muse("fetch", "--all", "--json", cwd=repo_dir)).stdout)
    assert [r["remote"] for r in both["remotes"]] == ["origin", "second"]
    assert all(r["refs"] == [] for r in both["remotes"])


def test_fetch_needs_a_name_not_a_url(muse, repo_dir, tmp_path):
    remote, _ = published(muse, repo_dir, tmp_path)
    result = changes_nothing(muse, repo_dir, "fetch", str(remote), exit_code=2)
    assert "error: fetch needs a configured remote, not a bare URL" in result.stderr
    assert f"muse remote add NAME {remote}" in result.stderr


# -- pull -------------------------------------------------------------------------------------


def test_pull_fast_forwards_branch_and_tree(muse, repo_dir, tmp_path):
    remote, head = published(muse, repo_dir, tmp_path)
    _, new = _advance_remote(muse, remote, tmp_path)
    result = ok(muse("pull", cwd=repo_dir))
    assert f"Fast-forward {head[:12]}..{new[:12]} to origin/main" in result.stdout
    assert repo(repo_dir).head() == new
    assert read(repo_dir, "song.mid") == "verse\nchorus"
    assert read(repo_dir, "lyrics.txt") == "la la"
    assert ok(muse("status", "--short", cwd=repo_dir)).stdout == ""
    assert "Already up to date." in ok(muse("pull", cwd=repo_dir)).stdout


def test_pull_json_shape(muse, repo_dir, tmp_path):
    remote, head = published(muse, repo_dir, tmp_path)
    _, new = _advance_remote(muse, remote, tmp_path)
    data = json.loads(ok(muse("pull", "--json", cwd=repo_dir)).stdout)
    assert list(data) == ["remote", "url", "branch", "upstream", "fetch", "result"]
    assert data["branch"] == "main" and data["upstream"] == "origin/main"
    assert data["fetch"]["commits"] == 1
    assert data["result"] == {"kind": "fast-forward", "old": head, "new": new, "conflicts": []}


def test_pull_keeps_local_edits_to_untouched_files(muse, repo_dir, tmp_path):
    remote, _ = published(muse, repo_dir, tmp_path)
    write(repo_dir, "notes.txt", "draft")
    commit(muse, repo_dir, "notes")
    ok(muse("push", cwd=repo_dir))
    other = clone_of(muse, remote, tmp_path, "other")
    write(other, "song.mid", "v2")
    new = commit(muse, other, "v2")
    ok(muse("push", cwd=other))
    write(repo_dir, "notes.txt", "my unsaved thoughts")
    ok(muse("pull", cwd=repo_dir))
    assert repo(repo_dir).head() == new
    assert read(repo_dir, "song.mid") == "v2"
    assert read(repo_dir, "notes.txt") == "my unsaved thoughts"


def test_pull_refuses_when_the_update_would_overwrite_local_edits(muse, repo_dir, tmp_path):
    remote, head = published(muse, repo_dir, tmp_path)
    _advance_remote(muse, remote, tmp_path)
    write(repo_dir, "song.mid", "my local verse")
    ok(muse("fetch", cwd=repo_dir))  # so that the refusal itself changes nothing at all
    result = changes_nothing(muse, repo_dir, "pull", exit_code=4)
    assert "it would overwrite local changes: song.mid (modified)" in result.stderr
    assert "hint:" in result.stderr
    assert repo(repo_dir).head() == head


def test_pull_refuses_diverged_history_without_merge(muse, repo_dir, tmp_path):
    remote, _ = published(muse, repo_dir, tmp_path)
    _advance_remote(muse, remote, tmp_path)
    write(repo_dir, "drums.mid", "boom")
    ours = commit(muse, repo_dir, "drums")
    ok(muse("fetch", cwd=repo_dir))
    result = changes_nothing(muse, repo_dir, "pull", exit_code=4)
    assert "error: cannot fast-forward main to origin/main: the histories have diverged" \
        in result.stderr
    assert "muse pull --merge" in result.stderr
    assert repo(repo_dir).head() == ours


def test_pull_merge_makes_a_merge_commit(muse, repo_dir, tmp_path):
    remote, _ = published(muse, repo_dir, tmp_path)
    _, theirs = _advance_remote(muse, remote, tmp_path)
    write(repo_dir, "drums.mid", "boom")
    ours = commit(muse, repo_dir, "drums")
    result = ok(muse("pull", "--merge", "--json", cwd=repo_dir))
    data = json.loads(result.stdout)
    assert data["result"]["kind"] == "merged" and data["result"]["old"] == ours
    merged = repo(repo_dir).head()
    assert merged == data["result"]["new"]
    assert repo(repo_dir).graph.commit(merged).parents == (ours, theirs)
    assert read(repo_dir, "drums.mid") == "boom"
    assert read(repo_dir, "lyrics.txt") == "la la"
    ok(muse("push", cwd=repo_dir))  # now a fast-forward for the remote


def test_pull_merge_conflict_exits_1_and_leaves_a_merge_to_finish(muse, repo_dir, tmp_path):
    remote, _ = published(muse, repo_dir, tmp_path)
    _advance_remote(muse, remote, tmp_path)
    write(repo_dir, "song.mid", "our verse")
    ours = commit(muse, repo_dir, "our take")
    result = muse("pull", "--merge", cwd=repo_dir)
    assert result.exit_code == 1
    assert "CONFLICT (both-modified): song.mid" in result.stdout
    assert "muse merge --abort" in result.stderr
    assert repo(repo_dir).head() == ours
    assert "<<<<<<< ours\nour verse\n=======\n" in read(repo_dir, "song.mid")  # a text file
    ok(muse("merge", "--abort", cwd=repo_dir))
    assert read(repo_dir, "song.mid") == "our verse"


def test_plain_pull_follows_the_upstream_set_by_push(muse, repo_dir, tmp_path):
    remote = bare(muse, tmp_path)
    write(repo_dir, "a.mid", "one")
    commit(muse, repo_dir, "one")
    ok(muse("remote", "add", "studio", str(remote), cwd=repo_dir))
    ok(muse("push", "-u", "studio", "main:takes", cwd=repo_dir))
    other = tmp_path / "other"
    ok(muse("clone", str(remote), str(other), cwd=tmp_path))
    assert repo(other).current_branch() == "takes"
    write(other, "a.mid", "two")
    new = commit(muse, other, "two")
    ok(muse("push", cwd=other))
    ok(muse("pull", cwd=repo_dir))  # studio's takes, because that is main's upstream
    assert repo(repo_dir).head() == new
    assert read(repo_dir, "a.mid") == "two"


def test_pull_named_remote_and_branch(muse, repo_dir, tmp_path):
    remote, _ = published(muse, repo_dir, tmp_path)
    other = clone_of(muse, remote, tmp_path, "other")
    ok(muse("switch", "-c", "drums", cwd=other))
    write(other, "drums.mid", "boom")
    new = commit(muse, other, "drums")
    ok(muse("push", "origin", "drums", cwd=other))
    ok(muse("pull", "origin", "drums", cwd=repo_dir))
    assert repo(repo_dir).head() == new and repo(repo_dir).current_branch() == "main"
    missing = muse("pull", "origin", "nope", cwd=repo_dir)
    assert missing.exit_code == 2
    assert "error: remote origin has no branch 'nope'" in missing.stderr


def test_pull_on_a_detached_head_is_refused(muse, repo_dir, tmp_path):
    _, head = published(muse, repo_dir, tmp_path)
    ok(muse("switch", "--detach", head, cwd=repo_dir))
    result = changes_nothing(muse, repo_dir, "pull", "origin", "main", exit_code=2)
    assert "error: HEAD is detached: there is no branch to pull into" in result.stderr


def test_pull_into_a_fresh_repository_starts_the_branch(muse, repo_dir, tmp_path):
    remote, head = published(muse, repo_dir, tmp_path)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    ok(muse("init", cwd=fresh))
    ok(muse("remote", "add", "origin", str(remote), cwd=fresh))
    write(fresh, "song.mid", "untracked and in the way")
    ok(muse("fetch", cwd=fresh))  # so that the refusal itself changes nothing at all
    before = tree_state(fresh)
    blocked = muse("pull", cwd=fresh)
    assert blocked.exit_code == 4
    assert "song.mid (untracked)" in blocked.stderr
    assert repo(fresh).head() is None
    assert tree_state(fresh) == before
    (fresh / "song.mid").unlink()
    ok(muse("pull", cwd=fresh))
    assert repo(fresh).head() == head
    assert read(fresh, "song.mid") == "verse"
