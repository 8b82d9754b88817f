"""`muse reset [--soft | --mixed | --hard]`: move the branch (or detached HEAD); --hard
makes tracked files match."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.branching_support import commit, head_file, is_executable, read, ref, repo, write
from tests.testkit import changes_nothing


@pytest.fixture
def history(muse, repo_dir: Path) -> dict[str, str]:
    write(repo_dir, "song.mid", "v1")
    write(repo_dir, "render.sh", "#!/bin/sh\n", executable=True)
    first = commit(muse, repo_dir, "first")
    write(repo_dir, "song.mid", "v2")
    write(repo_dir, "stems/bass.wav", "bass")
    (repo_dir / "render.sh").chmod(0o644)
    second = commit(muse, repo_dir, "second")
    return {"first": first, "second": second}


def test_reset_hard_moves_branch_and_tracked_files(muse, repo_dir, history):
    write(repo_dir, "song.mid", "unsaved edit")
    write(repo_dir, "scratch.txt", "untracked")
    result = muse("reset", "--hard", "HEAD~1", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert f"HEAD is now at {history['first'][:12]} first" in result.stdout
    assert ref(repo_dir, "refs/heads/main") == history["first"]
    assert head_file(repo_dir) == "ref: refs/heads/main"
    assert read(repo_dir, "song.mid") == "v1"
    assert not (repo_dir / "stems").exists()
    assert is_executable(repo_dir / "render.sh")
    assert read(repo_dir, "scratch.txt") == "untracked"  # untracked files are left alone
    assert muse("status", "--short", cwd=repo_dir).stdout == "A scratch.txt\n"
    newest = next(repo(repo_dir).refs.reflog("refs/heads/main"))
    assert (newest.old, newest.new) == (history["second"], history["first"])
    assert "reset: moving to HEAD~1" in newest.message


def test_reset_hard_forward_again(muse, repo_dir, history):
    assert muse("reset", "--hard", history["first"], cwd=repo_dir).exit_code == 0
    assert muse("reset", "--hard", history["second"][:8], cwd=repo_dir).exit_code == 0
    assert read(repo_dir, "stems/bass.wav") == "bass"
    assert not is_executable(repo_dir / "render.sh")
    assert muse("status", "--short", cwd=repo_dir).stdout == ""


def test_reset_hard_defaults_to_head_and_discards_edits(muse, repo_dir, history):
    write(repo_dir, "song.mid", "unsaved")
    (repo_dir / "stems/bass.wav").unlink()
    result = muse("reset", "--hard", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert read(repo_dir, "song.mid") == "v2"
    assert read(repo_dir, "stems/bass.wav") == "bass"
    assert ref(repo_dir, "refs/heads/main") == history["second"]


def test_reset_hard_on_detached_head(muse, repo_dir, history):
    assert muse("switch", "--detach", "HEAD", cwd=repo_dir).exit_code == 0
    assert muse("reset", "--hard", "HEAD~1", cwd=repo_dir).exit_code == 0
    assert head_file(repo_dir) == history["first"]
    assert ref(repo_dir, "refs/heads/main") == history["second"]
    assert read(repo_dir, "song.mid") == "v1"


def test_reset_hard_clears_a_merge_in_progress(muse, repo_dir, history):
    assert muse("switch", "-c", "feature", "HEAD~1", cwd=repo_dir).exit_code == 0
    write(repo_dir, "song.mid", "feature take\0")  # binary: a file-level conflict
    write(repo_dir, "keys.wav", "keys")
    commit(muse, repo_dir, "feature")
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    assert muse("merge", "feature", cwd=repo_dir).exit_code == 1
    assert (repo_dir / "song~theirs.mid").exists()
    assert (repo_dir / "keys.wav").exists()
    result = muse("reset", "--hard", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert not (repo_dir / ".muse/MERGE_HEAD").exists()
    assert not (repo_dir / ".muse/MERGE_CONFLICTS").exists()
    assert not (repo_dir / "song~theirs.mid").exists()
    assert not (repo_dir / "song~base.mid").exists()
    assert not (repo_dir / "keys.wav").exists()  # written by the merge, so tracked by it
    assert read(repo_dir, "song.mid") == "v2"
    assert muse("status", "--short", cwd=repo_dir).stdout == ""


def test_reset_on_unborn_branch_starts_it(muse, repo_dir, history):
    (repo_dir / ".muse/HEAD").write_text("ref: refs/heads/fresh\n")
    # On an unborn branch every file is untracked: one in the way is never overwritten.
    refused = changes_nothing(muse, repo_dir, "reset", "--hard", history["first"], exit_code=4)
    assert "files Muse does not track: render.sh (untracked), song.mid (untracked)" \
        in refused.stderr
    (repo_dir / "song.mid").unlink()
    (repo_dir / "render.sh").unlink()
    result = muse("reset", "--hard", history["first"], cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert ref(repo_dir, "refs/heads/fresh") == history["first"]
    assert read(repo_dir, "song.mid") == "v1"


def test_reset_unknown_revision(muse, repo_dir, history):
    write(repo_dir, "song.mid", "unsaved")
    result = changes_nothing(muse, repo_dir, "reset", "--hard", "nosuch", exit_code=2)
    assert "unknown revision 'nosuch'" in result.stderr


def test_reset_ambiguous_revision(muse, repo_dir, history):
    assert muse("branch", "take", "HEAD~1", cwd=repo_dir).exit_code == 0
    assert muse("tag", "take", cwd=repo_dir).exit_code == 0
    result = changes_nothing(muse, repo_dir, "reset", "--hard", "take", exit_code=2)
    assert "ambiguous name 'take'" in result.stderr


def test_reset_past_the_first_commit(muse, repo_dir, history):
    result = changes_nothing(muse, repo_dir, "reset", "--hard", "HEAD~5", exit_code=2)
    assert "goes past the first commit" in result.stderr


def test_reset_without_a_mode_is_mixed_as_in_git(muse, repo_dir, history):
    """`muse reset REV` is `reset --mixed REV`: the branch moves, no file is touched."""
    write(repo_dir, "song.mid", "unsaved edit")
    write(repo_dir, "scratch.txt", "untracked")
    files = {p: read(repo_dir, p) for p in ("song.mid", "stems/bass.wav", "scratch.txt")}
    result = muse("reset", "HEAD~1", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"HEAD is now at {history['first'][:12]} first\n"
    assert "The working tree was not touched" in result.stderr
    assert ref(repo_dir, "refs/heads/main") == history["first"]
    assert {p: read(repo_dir, p) for p in files} == files
    newest = next(repo(repo_dir).refs.reflog("refs/heads/main"))
    assert (newest.old, newest.new) == (history["second"], history["first"])
    assert "reset: moving to HEAD~1" in newest.message
    # And is undone as any reset is: the files were never touched.
    assert muse("reset", "main@{1}", cwd=repo_dir).exit_code == 0
    assert ref(repo_dir, "refs/heads/main") == history["second"]
    assert muse("status", "--short", cwd=repo_dir).stdout == "A scratch.txt\nM song.mid\n"


def test_a_bare_reset_is_mixed_head_and_gives_up_a_merge(muse, repo_dir, history):
    """As `git reset`: HEAD stays, a merge in progress is given up, files are kept."""
    _conflicted_merge(muse, repo_dir)
    ours = read(repo_dir, "song.mid")
    result = muse("reset", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert not (repo_dir / ".muse/MERGE_HEAD").exists()
    assert read(repo_dir, "song.mid") == ours
    assert ref(repo_dir, "refs/heads/main") == history["second"]


# -- --soft and --mixed: move only the branch ------------------------------------------


@pytest.mark.parametrize("mode", ["--soft", "--mixed"])
def test_soft_and_mixed_move_only_the_branch(muse, repo_dir, history, mode):
    write(repo_dir, "scratch.txt", "untracked")
    files_before = {p: read(repo_dir, p) for p in ("song.mid", "stems/bass.wav", "scratch.txt")}
    result = muse("reset", mode, "HEAD~1", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert f"HEAD is now at {history['first'][:12]} first" in result.stdout
    assert ref(repo_dir, "refs/heads/main") == history["first"]
    assert {p: read(repo_dir, p) for p in files_before} == files_before
    # The second commit's changes are now local changes: the next commit records them.
    short = muse("status", "--short", cwd=repo_dir).stdout.splitlines()
    assert sorted(short) == ["A scratch.txt", "A stems/bass.wav", "M render.sh", "M song.mid"]
    newest = next(repo(repo_dir).refs.reflog("HEAD"))
    assert (newest.old, newest.new) == (history["second"], history["first"])
    again = commit(muse, repo_dir, "again")
    assert repo(repo_dir).graph.commit(again).parents == (history["first"],)


def _conflicted_merge(muse, repo_dir) -> None:
    assert muse("switch", "-c", "feature", "HEAD~1", cwd=repo_dir).exit_code == 0
    write(repo_dir, "song.mid", "feature\x00take")  # binary: a file-level conflict
    commit(muse, repo_dir, "feature")
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    assert muse("merge", "feature", cwd=repo_dir).exit_code == 1


def test_soft_reset_is_refused_during_a_merge(muse, repo_dir, history):
    _conflicted_merge(muse, repo_dir)
    result = changes_nothing(muse, repo_dir, "reset", "--soft", "HEAD~1", exit_code=3)
    assert "cannot reset --soft: a merge of" in result.stderr


def test_mixed_reset_gives_up_a_merge_and_keeps_its_files(muse, repo_dir, history):
    _conflicted_merge(muse, repo_dir)
    ours = read(repo_dir, "song.mid")
    result = muse("reset", "--mixed", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert not (repo_dir / ".muse/MERGE_HEAD").exists()
    assert not (repo_dir / ".muse/MERGE_CONFLICTS").exists()
    assert read(repo_dir, "song.mid") == ours  # the conflicted path keeps what is there
    assert ref(repo_dir, "refs/heads/main") == history["second"]
    # The side files were copies of stored versions: gone, so the next commit does not
    # record them as new files.
    sides = sorted(p.name for p in repo_dir.glob("song~*"))
    assert sides == []
    assert "Removed the conflict's side files" in result.stderr
    assert "song~theirs.mid" in result.stderr
    status = muse("status", "--short", cwd=repo_dir).stdout
    assert "song~" not in status


def test_mixed_reset_keeps_a_side_file_edited_since(muse, repo_dir, history):
    _conflicted_merge(muse, repo_dir)
    theirs = sorted(p.name for p in repo_dir.glob("song~theirs*"))
    assert theirs
    write(repo_dir, theirs[0], "my own mix of both")
    result = muse("reset", "--mixed", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert read(repo_dir, theirs[0]) == "my own mix of both"
    assert theirs[0] not in result.stderr


@pytest.mark.parametrize("args", [("--soft", "--hard"), ("--mixed", "--soft"),
                                  ("--soft", "nowhere")])
def test_bad_soft_and_mixed_resets_change_nothing(muse, repo_dir, history, args):
    result = changes_nothing(muse, repo_dir, "reset", *args, exit_code=2)
    assert "cannot be combined" in result.stderr or "unknown revision" in result.stderr
