"""`muse restore`, `muse rm [--cached]`, `muse mv`: named files of the tree, safely."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.branching_support import commit, read, repo, write
from tests.testkit import changes_nothing


@pytest.fixture
def tracked(muse, repo_dir: Path) -> dict[str, str]:
    """song.mid, stems/bass.wav (binary), stems/drums.wav; two commits (v1, then v2)."""
    write(repo_dir, "song.mid", "song v1")
    write(repo_dir, "stems/bass.wav", b"\x00RIFF bass v1\xff")
    write(repo_dir, "stems/drums.wav", b"\x00RIFF drums\xff")
    first = commit(muse, repo_dir, "v1")
    write(repo_dir, "song.mid", "song v2")
    write(repo_dir, "stems/bass.wav", b"\x00RIFF bass v2\xff")
    second = commit(muse, repo_dir, "v2")
    return {"v1": first, "v2": second}


def short_status(muse, root: Path) -> str:
    return str(muse("status", "--short", cwd=root).stdout)


# -- restore ----------------------------------------------------------------------


def test_restore_discards_edits_and_deletions(muse, repo_dir, tracked):
    write(repo_dir, "song.mid", "scribbled")
    (repo_dir / "stems/bass.wav").unlink()
    write(repo_dir, "new.txt", "untracked stays")
    result = muse("restore", "song.mid", "stems", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert read(repo_dir, "song.mid") == "song v2"
    assert (repo_dir / "stems/bass.wav").read_bytes() == b"\x00RIFF bass v2\xff"
    assert read(repo_dir, "new.txt") == "untracked stays"
    assert short_status(muse, repo_dir) == "A new.txt\n"


def test_restore_from_source_and_folder_no_overlay(muse, repo_dir, tracked):
    write(repo_dir, "stems/keys.wav", "keys")
    commit(muse, repo_dir, "v3 adds keys")
    result = muse("restore", "--source", "HEAD~2", "--json", "stems", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["written"] == ["stems/bass.wav"]
    assert data["removed"] == ["stems/keys.wav"]  # tracked, absent from the source
    assert (repo_dir / "stems/bass.wav").read_bytes() == b"\x00RIFF bass v1\xff"
    assert not (repo_dir / "stems/keys.wav").exists()
    assert read(repo_dir, "song.mid") == "song v2"  # outside the spec: untouched


def test_restore_from_a_subfolder_and_dotdot_inside(muse, repo_dir, tracked):
    write(repo_dir, "song.mid", "scribbled")
    result = muse("restore", "../song.mid", cwd=repo_dir / "stems")
    assert result.exit_code == 0, result.output
    assert read(repo_dir, "song.mid") == "song v2"


def test_restore_never_overwrites_an_untracked_file(muse, repo_dir, tracked):
    (repo_dir / "song.mid").unlink()
    commit(muse, repo_dir, "drop song")
    write(repo_dir, "song.mid", "my new untracked song")
    result = changes_nothing(muse, repo_dir, "restore", "--source", "HEAD~1", "song.mid",
                             exit_code=4)
    assert "song.mid (untracked)" in result.stderr


@pytest.mark.parametrize("args, message", [
    (("restore", "nope.txt"), "did not match any file in HEAD"),
    (("restore", "../outside"), "outside the repository"),
    (("restore", "/etc/passwd"), "outside the repository"),
    (("restore", ".muse/HEAD"), "inside .muse/"),
    (("restore", "song.mid", "nope.txt"), "'nope.txt' did not match"),
    (("restore", "--source", "nosuch", "song.mid"), "unknown revision"),
    (("restore", ""), "empty path"),
    (("restore", "--staged", "nope.txt"), "did not match"),
])
def test_restore_bad_input_changes_nothing(muse, repo_dir, tracked, args, message):
    write(repo_dir, "song.mid", "edited, must survive")
    result = changes_nothing(muse, repo_dir, *args, exit_code=2)
    assert message in result.stderr
    assert read(repo_dir, "song.mid") == "edited, must survive"


def test_restore_in_an_empty_repository(muse, repo_dir):
    write(repo_dir, "a.txt", "a")
    changes_nothing(muse, repo_dir, "restore", "a.txt", exit_code=3)


def test_restore_streams_large_binary_files(muse, repo_dir):
    big = os.urandom(1 << 20) * 3  # crosses several read chunks
    write(repo_dir, "take.wav", big)
    commit(muse, repo_dir, "take")
    write(repo_dir, "take.wav", b"damaged")
    assert muse("restore", "take.wav", cwd=repo_dir).exit_code == 0
    assert (repo_dir / "take.wav").read_bytes() == big
    assert not [n for n in os.listdir(repo_dir) if n.startswith(".muse-tmp-")]


# -- rm ---------------------------------------------------------------------------


def test_rm_deletes_and_commit_records_it(muse, repo_dir, tracked):
    result = muse("rm", "song.mid", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert not (repo_dir / "song.mid").exists()
    commit(muse, repo_dir, "drop song")
    assert "song.mid" not in repo(repo_dir).head_snapshot().as_dict()


def test_rm_folder_needs_r(muse, repo_dir, tracked):
    result = changes_nothing(muse, repo_dir, "rm", "stems", exit_code=2)
    assert "without -r" in result.stderr
    changes_nothing(muse, repo_dir, "rm", ".", exit_code=2)
    assert muse("rm", "-r", "stems", cwd=repo_dir).exit_code == 0
    assert not (repo_dir / "stems").exists()
    assert short_status(muse, repo_dir) == "D stems/bass.wav\nD stems/drums.wav\n"


def test_rm_refuses_local_changes_without_force(muse, repo_dir, tracked):
    write(repo_dir, "song.mid", "unsaved idea")
    result = changes_nothing(muse, repo_dir, "rm", "song.mid", exit_code=4)
    assert "local changes: song.mid" in result.stderr
    assert muse("rm", "-f", "song.mid", cwd=repo_dir).exit_code == 0
    assert not (repo_dir / "song.mid").exists()


@pytest.mark.parametrize("args, message", [
    (("rm", "nope.txt"), "did not match any tracked file"),
    (("rm", "untracked.txt"), "did not match any tracked file"),
    (("rm", "../outside"), "outside the repository"),
    (("rm", "--cached", "song.mid", "nope"), "'nope' did not match"),
    (("rm", ".muse"), "inside .muse/"),
])
def test_rm_bad_input_changes_nothing(muse, repo_dir, tracked, args, message):
    write(repo_dir, "untracked.txt", "not in any commit")
    result = changes_nothing(muse, repo_dir, *args, exit_code=2)
    assert message in result.stderr


def test_rm_cached_keeps_the_file_and_commit_untracks_it(muse, repo_dir, tracked):
    write(repo_dir, ".museignore", "*.mid\n")
    commit(muse, repo_dir, "ignore midi")
    # Ignoring a tracked file does not untrack it ...
    write(repo_dir, "song.mid", "song v3")
    assert short_status(muse, repo_dir) == "M song.mid\n"
    # ... rm --cached does, at the next commit, and keeps the file.
    result = muse("rm", "--cached", "song.mid", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert "note:" not in result.stderr  # it is ignored: it stays out afterwards
    assert read(repo_dir, "song.mid") == "song v3"
    status = json.loads(muse("status", "--json", cwd=repo_dir).stdout)
    assert status["changes"] == [{"path": "song.mid", "status": "deleted"}]
    assert status["untracking"] == ["song.mid"]
    assert "rm --cached" in muse("status", cwd=repo_dir).stdout
    commit(muse, repo_dir, "untrack song")
    assert "song.mid" not in repo(repo_dir).head_snapshot().as_dict()
    assert read(repo_dir, "song.mid") == "song v3"
    assert not (repo_dir / ".muse/untrack.list").exists()
    assert short_status(muse, repo_dir) == ""  # ignored now, and no longer tracked


def test_rm_cached_of_a_file_not_ignored_warns(muse, repo_dir, tracked):
    result = muse("rm", "--cached", "song.mid", cwd=repo_dir)
    assert result.exit_code == 0
    assert "note: song.mid not in .museignore" in result.stderr


def test_restore_staged_undoes_rm_cached(muse, repo_dir, tracked):
    write(repo_dir, "song.mid", "edited")
    assert muse("rm", "--cached", "-r", "stems", "song.mid", cwd=repo_dir).exit_code == 0
    result = muse("restore", "--staged", "stems", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert "tracked again: stems/bass.wav" in result.stdout
    assert (repo_dir / ".muse/untrack.list").read_text() == "song.mid\n"
    assert read(repo_dir, "song.mid") == "edited"  # --staged alone never touches files
    assert muse("restore", "--staged", "--worktree", "song.mid", cwd=repo_dir).exit_code == 0
    assert read(repo_dir, "song.mid") == "song v2"
    assert short_status(muse, repo_dir) == ""


def test_reset_hard_forgets_rm_cached(muse, repo_dir, tracked):
    assert muse("rm", "--cached", "song.mid", cwd=repo_dir).exit_code == 0
    assert muse("reset", "--hard", "HEAD", cwd=repo_dir).exit_code == 0
    assert short_status(muse, repo_dir) == ""


def test_damaged_untrack_list_is_a_clear_error(muse, repo_dir, tracked):
    (repo_dir / ".muse/untrack.list").write_text("../../etc/passwd\n")
    result = changes_nothing(muse, repo_dir, "status", exit_code=3)
    assert "untrack.list is damaged" in result.stderr


# -- mv ---------------------------------------------------------------------------


def test_mv_file_and_folder(muse, repo_dir, tracked):
    assert muse("mv", "song.mid", "stems", cwd=repo_dir).exit_code == 0  # into a folder
    assert read(repo_dir, "stems/song.mid") == "song v2"
    assert muse("mv", "stems/song.mid", "final.mid", cwd=repo_dir).exit_code == 0  # again
    result = muse("mv", "--json", "stems", "audio", cwd=repo_dir)
    assert json.loads(result.stdout) == {"from": "stems", "to": "audio", "ignored": False}
    assert (repo_dir / "audio/bass.wav").read_bytes() == b"\x00RIFF bass v2\xff"
    commit(muse, repo_dir, "moved")
    assert sorted(repo(repo_dir).head_snapshot().as_dict()) == [
        "audio/bass.wav", "audio/drums.wav", "final.mid"]


@pytest.mark.parametrize("args, code, message", [
    (("mv", "nope", "x"), 2, "does not exist"),
    (("mv", "song.mid", "stems/bass.wav"), 4, "already exists"),
    (("mv", "song.mid", "missing/dir/x.mid"), 2, "folder does not exist"),
    (("mv", "song.mid", "../outside.mid"), 2, "outside the repository"),
    (("mv", "../outside", "x"), 2, "outside the repository"),
    (("mv", "stems", "stems/sub"), 2, "into itself"),
    (("mv", "song.mid", ".muse/x"), 2, "inside .muse/"),
    (("mv", "ignored.tmp", "x.tmp"), 2, "does not track"),
    ((("mv", ".", "x")), 2, "whole working tree"),
])
def test_mv_bad_input_changes_nothing(muse, repo_dir, tracked, args, code, message):
    write(repo_dir, ".museignore", "*.tmp\n")
    write(repo_dir, "ignored.tmp", "scratch")
    (repo_dir.parent / "outside").write_text("not ours")
    result = changes_nothing(muse, repo_dir, *args, exit_code=code)
    assert message in result.stderr


def test_mv_never_goes_through_a_link(muse, repo_dir, tracked, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (repo_dir / "link").symlink_to(outside)
    result = changes_nothing(muse, repo_dir, "mv", "song.mid", "link/song.mid", exit_code=2)
    assert "folder does not exist" in result.stderr
    assert list(outside.iterdir()) == []


def test_paths_through_a_link_outside_the_tree(muse, repo_dir, tracked, tmp_path):
    (tmp_path / "shortcut").symlink_to(repo_dir)
    write(repo_dir, "song.mid", "scribbled")
    result = muse("restore", str(tmp_path / "shortcut" / "song.mid"), cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert read(repo_dir, "song.mid") == "song v2"


def test_a_link_inside_the_tree_never_names_a_path_outside(muse, repo_dir, tracked, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.txt").write_text("not ours")
    (repo_dir / "out").symlink_to(tmp_path / "elsewhere")
    # Lexically inside (out/x.txt) but no snapshot has it: nothing matches, nothing is done.
    changes_nothing(muse, repo_dir, "rm", "out/x.txt", exit_code=2)
    changes_nothing(muse, repo_dir, "restore", "out/x.txt", exit_code=2)
    assert (tmp_path / "elsewhere" / "x.txt").read_text() == "not ours"


def test_mv_into_an_ignored_place_says_so(muse, repo_dir, tracked):
    write(repo_dir, ".museignore", "scratch/\n")
    (repo_dir / "scratch").mkdir()
    result = muse("mv", "song.mid", "scratch", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert "note: .museignore matches scratch/song.mid" in result.stderr
    assert short_status(muse, repo_dir) == "A .museignore\nD song.mid\n"


@pytest.mark.parametrize("args, code, error_code", [
    (("rm", "--json", "nope"), 2, "usage"),
    (("restore", "--json", "../x"), 2, "usage"),
    (("mv", "--json", "song.mid", "stems/bass.wav"), 4, "conflict"),
    (("restore", "--json", ".muse"), 2, "unsafe-path"),
])
def test_json_errors_are_one_object(muse, repo_dir, tracked, args, code, error_code):
    result = changes_nothing(muse, repo_dir, *args, exit_code=code)
    error = json.loads(result.stderr)["error"]
    assert error["code"] == error_code and error["exit_code"] == code
    assert result.stdout == ""


def test_rm_cached_asked_for_during_a_commit_stays_pending(muse, repo_dir, tracked,
                                                           monkeypatch):
    from muse import committing

    assert muse("rm", "--cached", "song.mid", cwd=repo_dir).exit_code == 0
    real_move = committing.Repository.move_head

    def move_head(self, old, new, message):  # another `rm --cached` lands mid-commit
        assert muse("rm", "--cached", "stems/bass.wav", cwd=repo_dir).exit_code == 0
        real_move(self, old, new, message)

    monkeypatch.setattr(committing.Repository, "move_head", move_head)
    commit(muse, repo_dir, "untrack song")
    assert (repo_dir / ".muse/untrack.list").read_text() == "stems/bass.wav\n"
