"""Everyday remote options a git user types: `clone -b`, `push --delete`, `remote
get-url` / `set-url`."""

from __future__ import annotations

from tests.branching_support import commit, read, ref, repo, write
from tests.remote_support import bare, ok, published, remote_refs
from tests.testkit import changes_nothing


def test_clone_on_a_chosen_branch(muse, repo_dir, tmp_path):
    remote, _ = published(muse, repo_dir, tmp_path)
    ok(muse("switch", "-c", "chorus", cwd=repo_dir))
    write(repo_dir, "song.mid", "chorus")
    chorus = commit(muse, repo_dir, "chorus")
    ok(muse("push", "origin", "chorus", cwd=repo_dir))
    result = ok(muse("clone", "-b", "chorus", str(remote), "copy", cwd=tmp_path))
    copy = tmp_path / "copy"
    assert "on branch chorus" in result.stdout
    assert repo(copy).current_branch() == "chorus" and repo(copy).head() == chorus
    assert read(copy, "song.mid") == "chorus"
    assert repo(copy).config.get("branch.chorus.merge") == "refs/heads/chorus"
    assert ref(copy, "refs/heads/main") is None  # as git: only the branch asked for


def test_clone_at_a_tag_is_detached(muse, repo_dir, tmp_path):
    remote, first = published(muse, repo_dir, tmp_path)
    ok(muse("tag", "-a", "v1", "-m", "first master", cwd=repo_dir))
    write(repo_dir, "song.mid", "later")
    commit(muse, repo_dir, "later")
    ok(muse("push", "--tags", cwd=repo_dir))
    result = ok(muse("clone", "--branch", "v1", str(remote), "at-v1", cwd=tmp_path))
    assert "HEAD detached at" in result.stdout
    cloned = repo(tmp_path / "at-v1")
    assert cloned.current_branch() is None and cloned.head() == first
    assert read(tmp_path / "at-v1", "song.mid") == "verse"


def test_clone_of_a_branch_the_remote_lacks_leaves_nothing(muse, repo_dir, tmp_path):
    remote, _ = published(muse, repo_dir, tmp_path)
    result = changes_nothing(muse, tmp_path, "clone", "-b", "nosuch", str(remote), "copy",
                             exit_code=2)
    assert "has no branch or tag 'nosuch'" in result.stderr
    assert not (tmp_path / "copy").exists()
    bad = changes_nothing(muse, tmp_path, "clone", "-b", "bad..name", str(remote), "copy",
                          exit_code=2)
    assert bad.stderr.startswith("error:")


def test_push_delete(muse, repo_dir, tmp_path):
    remote, _ = published(muse, repo_dir, tmp_path)
    ok(muse("push", "origin", "main:old-take", "main:other", cwd=repo_dir))
    ok(muse("tag", "v0", cwd=repo_dir))
    ok(muse("push", "origin", "v0", cwd=repo_dir))
    result = ok(muse("push", "--delete", "origin", "old-take", "v0", cwd=repo_dir))
    assert "[deleted]" in result.stdout
    assert set(remote_refs(muse, remote, tmp_path)) == {"refs/heads/main", "refs/heads/other"}
    ok(muse("push", "-d", "origin", "other", cwd=repo_dir))
    assert set(remote_refs(muse, remote, tmp_path)) == {"refs/heads/main"}


def test_bad_push_deletes_send_nothing(muse, repo_dir, tmp_path):
    remote, _ = published(muse, repo_dir, tmp_path)
    before = remote_refs(muse, remote, tmp_path)
    for args, message in ((("--delete", "origin"), "--delete needs the names"),
                          (("--delete", "--all", "origin"), "not with --all or --tags"),
                          (("--delete", "origin", "main:x"), "takes names, not refspecs")):
        result = changes_nothing(muse, repo_dir, "push", *args, exit_code=2, root=remote)
        assert message in result.stderr
    assert remote_refs(muse, remote, tmp_path) == before


def test_remote_get_and_set_url(muse, repo_dir, tmp_path):
    remote, _ = published(muse, repo_dir, tmp_path)
    assert ok(muse("remote", "get-url", "origin", cwd=repo_dir)).stdout == f"{remote}\n"
    moved = tmp_path / "moved.muse"
    remote.rename(moved)
    ok(muse("remote", "set-url", "origin", "../moved.muse", cwd=repo_dir))
    assert ok(muse("remote", "get-url", "origin", cwd=repo_dir)).stdout == f"{moved}\n"
    write(repo_dir, "song.mid", "chorus")
    commit(muse, repo_dir, "chorus")
    ok(muse("push", cwd=repo_dir))  # through the new URL
    unknown = changes_nothing(muse, repo_dir, "remote", "set-url", "nosuch", "x",
                              exit_code=6)
    assert "no remote named 'nosuch'" in unknown.stderr
    assert changes_nothing(muse, repo_dir, "remote", "get-url", "nosuch",
                           exit_code=6).stdout == ""


def test_a_bare_remote_is_not_needed_for_get_url(muse, tmp_path):
    target = bare(muse, tmp_path)
    work = tmp_path / "w"
    work.mkdir()
    ok(muse("init", cwd=work))
    ok(muse("remote", "add", "backup", str(target), cwd=work))
    assert ok(muse("remote", "get-url", "backup", cwd=work)).stdout == f"{target}\n"
