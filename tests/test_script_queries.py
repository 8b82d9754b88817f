"""What scripts and prompts ask, as git answers: rev-parse's queries, `branch
--show-current`, `status -sb`, and `switch -C`."""

from __future__ import annotations

import pytest

from tests.branching_support import commit, read, ref, write
from tests.remote_support import ok, published
from tests.testkit import changes_nothing


@pytest.fixture
def two_commits(muse, repo_dir):
    write(repo_dir, "song.mid", "verse")
    first = commit(muse, repo_dir, "first")
    write(repo_dir, "song.mid", "chorus")
    second = commit(muse, repo_dir, "second")
    return repo_dir, first, second


def test_abbrev_ref(muse, two_commits):
    root, first, _ = two_commits
    ok(muse("branch", "takes/one", first, cwd=root))
    ok(muse("tag", "v1", first, cwd=root))
    out = ok(muse("rev-parse", "--abbrev-ref", "HEAD", "takes/one", "refs/tags/v1", "@",
                  cwd=root)).stdout
    assert out == "main\ntakes/one\nv1\nmain\n"
    # A commit named through no ref prints nothing, as in git.
    assert ok(muse("rev-parse", "--abbrev-ref", "HEAD~1", first, cwd=root)).stdout == ""
    ok(muse("switch", "--detach", first, cwd=root))
    assert ok(muse("rev-parse", "--abbrev-ref", "HEAD", cwd=root)).stdout == "HEAD\n"


def test_abbrev_ref_of_the_upstream(muse, repo_dir, tmp_path):
    published(muse, repo_dir, tmp_path)
    assert ok(muse("rev-parse", "--abbrev-ref", "@{u}", cwd=repo_dir)).stdout == \
        "origin/main\n"


def test_verify_and_its_quiet_existence_test(muse, two_commits):
    root, _, second = two_commits
    assert ok(muse("rev-parse", "--verify", "main", cwd=root)).stdout == f"{second}\n"
    missing = changes_nothing(muse, root, "rev-parse", "--verify", "-q", "nosuch", exit_code=1)
    assert missing.stdout == "" and missing.stderr == ""
    loud = changes_nothing(muse, root, "rev-parse", "--verify", "nosuch", exit_code=2)
    assert "unknown revision" in loud.stderr
    two = changes_nothing(muse, root, "rev-parse", "--verify", "main", "main", exit_code=2)
    assert "--verify needs exactly one revision" in two.stderr
    assert "-q goes with --verify" in changes_nothing(muse, root, "rev-parse", "-q", "main",
                                                      exit_code=2).stderr


def test_toplevel_and_inside(muse, two_commits, tmp_path):
    root, _, _ = two_commits
    (root / "stems").mkdir()
    out = ok(muse("rev-parse", "--show-toplevel", cwd=root / "stems")).stdout
    assert out == f"{root}\n"
    assert ok(muse("rev-parse", "--is-inside-work-tree", cwd=root)).stdout == "true\n"
    ok(muse("init", "--bare", str(tmp_path / "bare.muse"), cwd=tmp_path))
    assert ok(muse("rev-parse", "--is-inside-work-tree",
                   cwd=tmp_path / "bare.muse")).stdout == "false\n"
    outside = tmp_path / "nowhere"
    outside.mkdir()
    assert muse("rev-parse", "--show-toplevel", cwd=outside).exit_code == 3
    assert "rev-parse what?" in changes_nothing(muse, root, "rev-parse", exit_code=2).stderr


def test_show_current(muse, two_commits):
    root, first, _ = two_commits
    assert ok(muse("branch", "--show-current", cwd=root)).stdout == "main\n"
    ok(muse("switch", "--detach", first, cwd=root))
    assert ok(muse("branch", "--show-current", cwd=root)).stdout == ""
    result = changes_nothing(muse, root, "branch", "--show-current", "-v", exit_code=2)
    assert "--show-current takes no other argument" in result.stderr


def test_short_status_with_its_branch_line(muse, repo_dir, tmp_path):
    fresh = ok(muse("status", "-sb", cwd=repo_dir)).stdout
    assert fresh == "## No commits yet on main\n"
    published(muse, repo_dir, tmp_path)
    assert ok(muse("status", "-sb", cwd=repo_dir)).stdout == "## main...origin/main\n"
    write(repo_dir, "song.mid", "chorus")
    commit(muse, repo_dir, "chorus")
    write(repo_dir, "notes.txt", "new")
    assert ok(muse("status", "-s", "-b", cwd=repo_dir)).stdout == \
        "## main...origin/main [ahead 1]\nA notes.txt\n"
    ok(muse("branch", "solo", cwd=repo_dir))
    ok(muse("switch", "solo", cwd=repo_dir))
    assert ok(muse("status", "--short", "--branch", cwd=repo_dir)).stdout.startswith(
        "## solo\n")
    ok(muse("switch", "--detach", "HEAD", cwd=repo_dir))
    assert ok(muse("status", "-sb", cwd=repo_dir)).stdout.startswith("## HEAD (no branch)\n")


def test_switch_force_create(muse, two_commits):
    root, first, second = two_commits
    ok(muse("branch", "idea", cwd=root))  # at second
    result = ok(muse("switch", "-C", "idea", first, cwd=root))
    assert "Switched to and reset branch 'idea'" in result.stdout
    assert ref(root, "refs/heads/idea") == first and read(root, "song.mid") == "verse"
    made = ok(muse("switch", "-C", "fresh", "main", cwd=root))
    assert "Switched to a new branch 'fresh'" in made.stdout
    assert ref(root, "refs/heads/fresh") == second
    # The current branch is not force-moved (`reset --hard` does that), and nothing changes.
    refused = changes_nothing(muse, root, "switch", "-C", "fresh", first, exit_code=4)
    assert "cannot force-move the current branch" in refused.stderr
    both = changes_nothing(muse, root, "switch", "-c", "x", "-C", "y", exit_code=2)
    assert "-c and -C cannot be combined" in both.stderr
