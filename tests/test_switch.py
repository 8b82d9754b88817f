"""`muse switch`: moving HEAD and the working tree between branches without losing work."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.branching_support import commit, head_file, is_executable, read, ref, write
from tests.testkit import changes_nothing, tree_state


@pytest.fixture
def branches(muse, repo_dir: Path) -> dict[str, str]:
    """main: song.mid v1 + keep.txt; feature: song.mid v2, adds stem.wav, removes old.txt."""
    write(repo_dir, "song.mid", "song v1")
    write(repo_dir, "keep.txt", "same on both")
    write(repo_dir, "old.txt", "only on main")
    main = commit(muse, repo_dir, "main")
    assert muse("switch", "-c", "feature", cwd=repo_dir).exit_code == 0
    write(repo_dir, "song.mid", "song v2")
    write(repo_dir, "stems/stem.wav", "stem")
    (repo_dir / "old.txt").unlink()
    feature = commit(muse, repo_dir, "feature")
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    return {"main": main, "feature": feature}


def test_switch_moves_head_and_files(muse, repo_dir, branches):
    result = muse("switch", "feature", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert "Switched to branch 'feature'" in result.stdout
    assert head_file(repo_dir) == "ref: refs/heads/feature"
    assert read(repo_dir, "song.mid") == "song v2"
    assert read(repo_dir, "stems/stem.wav") == "stem"
    assert not (repo_dir / "old.txt").exists()
    back = muse("switch", "main", cwd=repo_dir)
    assert back.exit_code == 0
    assert read(repo_dir, "song.mid") == "song v1"
    assert read(repo_dir, "old.txt") == "only on main"
    assert not (repo_dir / "stems").exists()  # emptied folders go too
    assert muse("status", "--short", cwd=repo_dir).stdout == ""


def test_switch_to_current_branch_is_a_no_op(muse, repo_dir, branches):
    result = changes_nothing(muse, repo_dir, "switch", "main", exit_code=0)
    assert "Already on 'main'" in result.stdout


def test_switch_create_at_head_and_at_start(muse, repo_dir, branches):
    made = muse("switch", "-c", "mix", cwd=repo_dir)
    assert made.exit_code == 0
    assert "Switched to a new branch 'mix'" in made.stdout
    assert ref(repo_dir, "refs/heads/mix") == branches["main"]
    assert head_file(repo_dir) == "ref: refs/heads/mix"
    started = muse("switch", "-c", "mix2", "feature", cwd=repo_dir)
    assert started.exit_code == 0
    assert ref(repo_dir, "refs/heads/mix2") == branches["feature"]
    assert read(repo_dir, "song.mid") == "song v2"


def test_switch_create_on_unborn_head_renames_the_future_branch(muse, repo_dir):
    write(repo_dir, "draft.mid", "draft")
    result = muse("switch", "-c", "sketch", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert head_file(repo_dir) == "ref: refs/heads/sketch"
    made = commit(muse, repo_dir, "first")
    assert ref(repo_dir, "refs/heads/sketch") == made
    assert ref(repo_dir, "refs/heads/main") is None


def test_switch_create_refuses_existing_branch(muse, repo_dir, branches):
    result = changes_nothing(muse, repo_dir, "switch", "-c", "feature", exit_code=4)
    assert "a branch named 'feature' already exists" in result.stderr


def test_switch_detach(muse, repo_dir, branches):
    result = muse("switch", "--detach", branches["feature"][:8], cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert "(detached)" in result.stdout
    assert head_file(repo_dir) == branches["feature"]
    assert read(repo_dir, "song.mid") == "song v2"
    status = muse("status", cwd=repo_dir).stdout
    assert "HEAD detached at" in status


def test_switch_carries_unrelated_local_changes(muse, repo_dir, branches):
    write(repo_dir, "keep.txt", "edited locally")
    write(repo_dir, "scratch.txt", "new, untracked")
    result = muse("switch", "feature", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert "kept local change: keep.txt" in result.stdout
    assert read(repo_dir, "keep.txt") == "edited locally"
    assert read(repo_dir, "scratch.txt") == "new, untracked"
    assert read(repo_dir, "song.mid") == "song v2"
    assert muse("status", "--short", cwd=repo_dir).stdout == "M keep.txt\nA scratch.txt\n"


def test_switch_carries_an_unrelated_deletion(muse, repo_dir, branches):
    (repo_dir / "keep.txt").unlink()
    assert muse("switch", "feature", cwd=repo_dir).exit_code == 0
    assert not (repo_dir / "keep.txt").exists()
    assert muse("status", "--short", cwd=repo_dir).stdout == "D keep.txt\n"


def test_switch_refuses_to_overwrite_a_modified_file(muse, repo_dir, branches):
    write(repo_dir, "song.mid", "unsaved take")
    result = changes_nothing(muse, repo_dir, "switch", "feature", exit_code=4)
    assert "cannot switch to 'feature': it would overwrite local changes: " \
           "song.mid (modified)" in result.stderr
    assert "--force" in result.stderr
    assert head_file(repo_dir) == "ref: refs/heads/main"


def test_switch_refuses_when_a_changed_file_was_deleted(muse, repo_dir, branches):
    (repo_dir / "old.txt").unlink()
    write(repo_dir, "song.mid", "x")
    before = tree_state(repo_dir)
    result = muse("switch", "feature", cwd=repo_dir)
    assert result.exit_code == 4
    assert "song.mid (modified)" in result.stderr
    # old.txt is deleted on both sides (locally and by feature): nothing to lose there.
    assert "old.txt" not in result.stderr
    assert tree_state(repo_dir) == before


def test_switch_refuses_an_untracked_file_in_the_way(muse, repo_dir, branches):
    write(repo_dir, "stems/stem.wav", "my own recording")
    result = changes_nothing(muse, repo_dir, "switch", "feature", exit_code=4)
    assert "stems/stem.wav (untracked)" in result.stderr


def test_switch_refuses_an_ignored_file_in_the_way(muse, repo_dir, branches):
    write(repo_dir, ".museignore", "*.wav\n")
    commit(muse, repo_dir, "ignore wavs")
    write(repo_dir, "stems/stem.wav", "ignored but precious")
    result = changes_nothing(muse, repo_dir, "switch", "feature", exit_code=4)
    assert "stems/stem.wav (untracked)" in result.stderr


def test_switch_refuses_an_untracked_folder_where_a_file_goes(muse, repo_dir, branches):
    (repo_dir / "old.txt").unlink()
    commit(muse, repo_dir, "drop old")
    assert muse("switch", "-c", "has-file", cwd=repo_dir).exit_code == 0
    write(repo_dir, "take", "a file named take")
    commit(muse, repo_dir, "file take")
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    write(repo_dir, "take/vocals.wav", "a folder named take")
    result = changes_nothing(muse, repo_dir, "switch", "has-file", exit_code=4)
    assert "take/vocals.wav (untracked)" in result.stderr


def test_switch_allows_an_identical_untracked_file(muse, repo_dir, branches):
    write(repo_dir, "stems/stem.wav", "stem")
    result = muse("switch", "feature", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert muse("status", "--short", cwd=repo_dir).stdout == ""


def test_switch_force_discards_local_changes(muse, repo_dir, branches):
    write(repo_dir, "song.mid", "unsaved take")
    write(repo_dir, "scratch.txt", "untracked elsewhere")
    result = muse("switch", "--force", "feature", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert read(repo_dir, "song.mid") == "song v2"
    assert read(repo_dir, "stems/stem.wav") == "stem"
    assert read(repo_dir, "scratch.txt") == "untracked elsewhere"
    assert muse("status", "--short", cwd=repo_dir).stdout == "A scratch.txt\n"


def test_switch_force_never_destroys_an_untracked_file(muse, repo_dir, branches):
    write(repo_dir, "song.mid", "unsaved take")  # tracked: --force may discard it
    write(repo_dir, "stems/stem.wav", "untracked, in the way")
    result = changes_nothing(muse, repo_dir, "switch", "--force", "feature", exit_code=4)
    assert "files Muse does not track: stems/stem.wav (untracked)" in result.stderr
    assert read(repo_dir, "song.mid") == "unsaved take"


def test_switch_restores_the_executable_bit(muse, repo_dir, branches):
    assert muse("switch", "-c", "tools", cwd=repo_dir).exit_code == 0
    write(repo_dir, "render.sh", "#!/bin/sh\n", executable=True)
    commit(muse, repo_dir, "script")
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    assert not (repo_dir / "render.sh").exists()
    assert muse("switch", "tools", cwd=repo_dir).exit_code == 0
    assert is_executable(repo_dir / "render.sh")


def test_switch_to_unknown_branch(muse, repo_dir, branches):
    result = changes_nothing(muse, repo_dir, "switch", "ghost", exit_code=2)
    assert "no branch named 'ghost'" in result.stderr
    assert "switch -c ghost" in result.stderr


def test_switch_to_a_commit_needs_detach(muse, repo_dir, branches):
    result = changes_nothing(muse, repo_dir, "switch", branches["feature"][:10], exit_code=2)
    assert "is not a branch" in result.stderr
    assert "--detach" in result.stderr


@pytest.mark.parametrize("args", [("--detach", "nosuch"), ("-c", "new", "nosuch")])
def test_switch_unknown_revision(muse, repo_dir, branches, args):
    result = changes_nothing(muse, repo_dir, "switch", *args, exit_code=2)
    assert "unknown revision 'nosuch'" in result.stderr


@pytest.mark.parametrize("args", [("--detach", "take"), ("-c", "new", "take")])
def test_switch_ambiguous_revision(muse, repo_dir, branches, args):
    assert muse("branch", "take", "feature", cwd=repo_dir).exit_code == 0
    assert muse("tag", "take", "main", cwd=repo_dir).exit_code == 0
    result = changes_nothing(muse, repo_dir, "switch", *args, exit_code=2)
    assert "ambiguous name 'take'" in result.stderr


def test_switch_invalid_new_branch_name(muse, repo_dir, branches):
    result = changes_nothing(muse, repo_dir, "switch", "-c", "no..dots", exit_code=2)
    assert "invalid branch name 'no..dots'" in result.stderr


def test_switch_refused_during_a_merge(muse, repo_dir, branches):
    write(repo_dir, "song.mid", "song v3 (main)")
    commit(muse, repo_dir, "conflicting")
    assert muse("merge", "feature", cwd=repo_dir).exit_code == 1
    result = changes_nothing(muse, repo_dir, "switch", "feature", exit_code=3)
    assert "a merge of" in result.stderr
    assert "merge --abort" in result.stderr
