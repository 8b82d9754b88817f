"""`muse branch` and `muse tag`: listing, creating, moving and deleting named refs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.branching_support import commit, head_file, ref, write
from tests.testkit import changes_nothing, tree_state


@pytest.fixture
def two_commits(muse, repo_dir: Path) -> tuple[str, str]:
    write(repo_dir, "a.mid", "one")
    first = commit(muse, repo_dir, "first")
    write(repo_dir, "a.mid", "two")
    second = commit(muse, repo_dir, "second")
    return first, second


# -- listing and creating -------------------------------------------------------------


def test_branch_lists_nothing_before_the_first_commit(muse, repo_dir):
    result = muse("branch", cwd=repo_dir)
    assert result.exit_code == 0
    assert result.stdout == ""


def test_branch_creates_at_head_and_lists_with_star(muse, repo_dir, two_commits):
    result = muse("branch", "drums", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert ref(repo_dir, "refs/heads/drums") == two_commits[1]
    listing = muse("branch", cwd=repo_dir)
    assert listing.stdout == "  drums\n* main\n"
    assert head_file(repo_dir) == "ref: refs/heads/main"  # creating does not switch


def test_branch_json_lists_names_commits_and_current(muse, repo_dir, two_commits):
    first, second = two_commits
    assert muse("branch", "old", "HEAD~1", cwd=repo_dir).exit_code == 0
    data = json.loads(muse("branch", "--json", cwd=repo_dir).stdout)
    assert data == [
        {"name": "main", "commit": second, "current": True},
        {"name": "old", "commit": first, "current": False},
    ]


def test_branch_at_start_revision(muse, repo_dir, two_commits):
    first, _ = two_commits
    assert muse("branch", "old", first[:10], cwd=repo_dir).exit_code == 0
    assert ref(repo_dir, "refs/heads/old") == first


def test_branch_with_slash_and_detached_listing(muse, repo_dir, two_commits):
    first, _ = two_commits
    assert muse("branch", "takes/vocals", cwd=repo_dir).exit_code == 0
    assert muse("switch", "--detach", first, cwd=repo_dir).exit_code == 0
    listing = muse("branch", cwd=repo_dir).stdout.splitlines()
    assert listing == [f"* (HEAD detached at {first[:12]})", "  main", "  takes/vocals"]


def test_existing_branch_is_refused_without_force(muse, repo_dir, two_commits):
    first, _ = two_commits
    assert muse("branch", "drums", first, cwd=repo_dir).exit_code == 0
    result = changes_nothing(muse, repo_dir, "branch", "drums", exit_code=4)
    assert "a branch named 'drums' already exists" in result.stderr
    assert "-f" in result.stderr
    assert ref(repo_dir, "refs/heads/drums") == first


def test_force_moves_an_existing_branch(muse, repo_dir, two_commits):
    first, second = two_commits
    assert muse("branch", "drums", first, cwd=repo_dir).exit_code == 0
    result = muse("branch", "-f", "drums", second, cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert "Moved branch drums" in result.stdout
    assert ref(repo_dir, "refs/heads/drums") == second


def test_force_refuses_to_move_the_current_branch(muse, repo_dir, two_commits):
    result = changes_nothing(muse, repo_dir, "branch", "-f", "main", "HEAD~1", exit_code=4)
    assert "cannot force-move the current branch 'main'" in result.stderr
    assert "reset --hard" in result.stderr


@pytest.mark.parametrize("name", ["bad..name", "has space", "a~1", ".hidden", "HEAD", "@",
                                  "x.lock", "a//b", "trailing/", "col:on", "-dash", "q?"])
def test_invalid_branch_names_are_refused(muse, repo_dir, two_commits, name):
    result = changes_nothing(muse, repo_dir, "branch", "--", name, exit_code=2)
    assert f"invalid branch name {name!r}" in result.stderr
    assert "hint:" in result.stderr
    assert "Traceback" not in result.output


def test_branch_that_would_be_a_folder_of_another_is_refused(muse, repo_dir, two_commits):
    assert muse("branch", "takes", cwd=repo_dir).exit_code == 0
    before = tree_state(repo_dir)
    nested = muse("branch", "takes/one", cwd=repo_dir)
    assert nested.exit_code == 2
    assert "clashes with existing branch 'takes'" in nested.stderr
    assert tree_state(repo_dir) == before
    assert muse("branch", "mix/a", cwd=repo_dir).exit_code == 0
    before = tree_state(repo_dir)
    folder = muse("branch", "mix", cwd=repo_dir)
    assert folder.exit_code == 2
    assert "clashes" in folder.stderr
    assert tree_state(repo_dir) == before


def test_unknown_start_revision_is_refused(muse, repo_dir, two_commits):
    result = changes_nothing(muse, repo_dir, "branch", "drums", "nosuchthing", exit_code=2)
    assert "unknown revision 'nosuchthing'" in result.stderr


def test_ambiguous_start_revision_is_refused(muse, repo_dir, two_commits):
    first, _ = two_commits
    assert muse("branch", "take", first, cwd=repo_dir).exit_code == 0
    assert muse("tag", "take", cwd=repo_dir).exit_code == 0
    result = changes_nothing(muse, repo_dir, "branch", "drums", "take", exit_code=2)
    assert "ambiguous name 'take'" in result.stderr


def test_branch_on_unborn_head_needs_a_commit(muse, repo_dir):
    result = changes_nothing(muse, repo_dir, "branch", "drums", exit_code=2)
    assert "HEAD does not point at a commit yet" in result.stderr


# -- deleting -------------------------------------------------------------------------


def test_delete_merged_branch(muse, repo_dir, two_commits):
    first, _ = two_commits
    assert muse("branch", "old", first, cwd=repo_dir).exit_code == 0
    result = muse("branch", "-d", "old", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert f"Deleted branch old (was {first[:12]})" in result.stdout
    assert ref(repo_dir, "refs/heads/old") is None
    assert not (repo_dir / ".muse/refs/heads/old").exists()


def test_deleting_the_current_branch_is_refused(muse, repo_dir, two_commits):
    result = changes_nothing(muse, repo_dir, "branch", "-d", "main", exit_code=4)
    assert "cannot delete the current branch 'main'" in result.stderr
    assert "switch" in result.stderr
    changes_nothing(muse, repo_dir, "branch", "-d", "-f", "main", exit_code=4)


def test_deleting_an_unmerged_branch_needs_force(muse, repo_dir, two_commits):
    assert muse("switch", "-c", "idea", cwd=repo_dir).exit_code == 0
    write(repo_dir, "idea.wav", "riff")
    idea = commit(muse, repo_dir, "idea")
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    result = changes_nothing(muse, repo_dir, "branch", "-d", "idea", exit_code=4)
    assert "branch 'idea' is not merged into HEAD" in result.stderr
    forced = muse("branch", "-d", "-f", "idea", cwd=repo_dir)
    assert forced.exit_code == 0
    assert f"was {idea[:12]}" in forced.stdout
    assert ref(repo_dir, "refs/heads/idea") is None


def test_deleting_an_unknown_branch(muse, repo_dir, two_commits):
    result = changes_nothing(muse, repo_dir, "branch", "-d", "ghost", exit_code=2)
    assert "no branch named 'ghost'" in result.stderr


# -- tags -----------------------------------------------------------------------------


def test_tag_create_list_json_and_delete(muse, repo_dir, two_commits):
    first, second = two_commits
    assert muse("tag", "v1", first, cwd=repo_dir).exit_code == 0
    assert muse("tag", "v2", cwd=repo_dir).exit_code == 0
    assert muse("tag", cwd=repo_dir).stdout == "v1\nv2\n"
    assert json.loads(muse("tag", "--json", cwd=repo_dir).stdout) == [
        {"name": "v1", "commit": first, "annotated": False, "tag_object": None},
        {"name": "v2", "commit": second, "annotated": False, "tag_object": None}]
    assert muse("log", "--oneline", "v1", cwd=repo_dir).stdout.startswith(first[:12])
    deleted = muse("tag", "-d", "v1", cwd=repo_dir)
    assert deleted.exit_code == 0
    assert ref(repo_dir, "refs/tags/v1") is None
    assert ref(repo_dir, "refs/tags/v2") == second


def test_existing_tag_refused_unless_forced(muse, repo_dir, two_commits):
    first, second = two_commits
    assert muse("tag", "v1", first, cwd=repo_dir).exit_code == 0
    result = changes_nothing(muse, repo_dir, "tag", "v1", exit_code=4)
    assert "a tag named 'v1' already exists" in result.stderr
    assert muse("tag", "-f", "v1", cwd=repo_dir).exit_code == 0
    assert ref(repo_dir, "refs/tags/v1") == second


def test_bad_tag_input_changes_nothing(muse, repo_dir, two_commits):
    before = tree_state(repo_dir)
    invalid = muse("tag", "bad..tag", cwd=repo_dir)
    assert invalid.exit_code == 2
    assert "invalid tag name 'bad..tag'" in invalid.stderr
    unknown = muse("tag", "-d", "ghost", cwd=repo_dir)
    assert unknown.exit_code == 2
    assert "no tag named 'ghost'" in unknown.stderr
    bad_rev = muse("tag", "v9", "deadbeef", cwd=repo_dir)
    assert bad_rev.exit_code == 2
    assert "unknown revision 'deadbeef'" in bad_rev.stderr
    assert tree_state(repo_dir) == before
