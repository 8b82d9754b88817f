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
    assert "listing takes no NAME" in result.stderr


# -- listing filters: --list, --contains, --merged, --no-merged, -v ----------------------


@pytest.fixture
def forked(muse, repo_dir):
    """main: base ← m1; takes/one from base: t1; takes/two at m1. Tags: v0 (annotated, at
    base), v1 (lightweight, at m1)."""
    write(repo_dir, "song.mid", "base")
    base = commit(muse, repo_dir, "base")
    ok(muse("tag", "-a", "v0", "-m", "first cut", cwd=repo_dir))
    ok(muse("switch", "-c", "takes/one", cwd=repo_dir))
    write(repo_dir, "take.wav", b"\x00one")
    t1 = commit(muse, repo_dir, "t1")
    ok(muse("switch", "main", cwd=repo_dir))
    write(repo_dir, "song.mid", "m1")
    m1 = commit(muse, repo_dir, "m1")
    ok(muse("branch", "takes/two", cwd=repo_dir))
    ok(muse("tag", "v1", cwd=repo_dir))
    return {"base": base, "t1": t1, "m1": m1}


def names(muse, root, *args):
    return [line[2:].split()[0] for line in ok(muse(*args, cwd=root)).stdout.splitlines()]


@pytest.mark.parametrize("args, expected", [
    (("--list", "takes/*"), ["takes/one", "takes/two"]),
    (("--list", "m*", "*two"), ["main", "takes/two"]),
    (("--merged",), ["main", "takes/two"]),           # HEAD (main) reaches them
    (("--no-merged",), ["takes/one"]),
    (("--merged", "takes/one"), ["takes/one"]),        # itself only, as in git
    (("--contains", "v0"), ["main", "takes/one", "takes/two"]),
    (("--contains", "takes/one"), ["takes/one"]),
    (("--list", "takes/*", "--merged", "main"), ["takes/two"]),
])
def test_branch_listing_filters(muse, repo_dir, forked, args, expected):
    assert names(muse, repo_dir, "branch", *args) == expected
    data = json.loads(ok(muse("branch", *args, "--json", cwd=repo_dir)).stdout)
    assert [b["name"] for b in data] == expected


@pytest.mark.parametrize("args, expected", [
    (("--list", "v*"), ["v0", "v1"]),
    (("-l", "v1"), ["v1"]),
    (("--contains", "HEAD~1"), ["v0", "v1"]),
    (("--contains", "HEAD"), ["v1"]),
    (("--merged", "takes/one"), ["v0"]),              # an annotated tag: by its commit
    (("--no-merged", "takes/one"), ["v1"]),
])
def test_tag_listing_filters(muse, repo_dir, forked, args, expected):
    shown = ok(muse("tag", *args, cwd=repo_dir)).stdout.splitlines()
    assert shown == expected


def test_branch_verbose_lines_up_ids_and_subjects(muse, repo_dir, forked):
    lines = ok(muse("branch", "-v", cwd=repo_dir)).stdout.splitlines()
    assert lines == [
        f"* main      {forked['m1'][:12]} m1",
        f"  takes/one {forked['t1'][:12]} t1",
        f"  takes/two {forked['m1'][:12]} m1",
    ]


@pytest.mark.parametrize("args, message", [
    (("branch", "x", "--merged"), "listing takes no NAME; patterns need --list"),
    (("branch", "-d", "takes/one", "--merged"), "cannot be combined"),
    (("branch", "--contains", "nowhere"), "unknown revision 'nowhere'"),
    (("tag", "v9", "--contains", "HEAD"), "listing takes no NAME"),
    (("tag", "-d", "v1", "--list"), "cannot be combined"),
    (("tag", "--merged", "nowhere"), "unknown revision 'nowhere'"),
])
def test_bad_listing_filters_change_nothing(muse, repo_dir, forked, args, message):
    result = changes_nothing(muse, repo_dir, *args, exit_code=2)
    assert message in result.stderr
