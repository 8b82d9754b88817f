"""`muse stash`: the tree's changes saved as a commit on HEAD, listed in .muse/stash.list."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.branching_support import commit, read, repo, write
from tests.testkit import changes_nothing


@pytest.fixture
def base(muse, repo_dir: Path) -> str:
    write(repo_dir, "song.mid", "song v1")
    write(repo_dir, "stems/bass.wav", b"\x00bass v1\xff")
    write(repo_dir, ".museignore", "*.tmp\n")
    return commit(muse, repo_dir, "base")


def stash_list_file(root: Path) -> list[str]:
    path = root / ".muse/stash.list"
    return path.read_text().splitlines() if path.exists() else []


def status(muse, root: Path) -> str:
    return str(muse("status", "--short", cwd=root).stdout)


def test_push_saves_everything_and_cleans_the_tree(muse, repo_dir, base):
    write(repo_dir, "song.mid", "song v2 (unsaved)")
    write(repo_dir, "new.wav", b"\x00new take")
    (repo_dir / "stems/bass.wav").unlink()
    write(repo_dir, "scratch.tmp", "ignored: stays, and is not stashed")
    result = muse("stash", "push", "-m", "idea", "--json", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    assert made["name"] == "stash@{0}" and made["message"] == "idea" and made["base"] == base
    assert stash_list_file(repo_dir) == [made["id"]]
    assert status(muse, repo_dir) == ""
    assert read(repo_dir, "song.mid") == "song v1"
    assert not (repo_dir / "new.wav").exists()
    assert read(repo_dir, "scratch.tmp") == "ignored: stays, and is not stashed"
    stashed = repo(repo_dir).graph.commit(made["id"])
    assert stashed.parents == (base,)
    assert sorted(repo(repo_dir).store.read_snapshot(stashed.snapshot).as_dict()) == [
        ".museignore", "new.wav", "song.mid"]
    # ... and back.
    popped = muse("stash", "pop", cwd=repo_dir)
    assert popped.exit_code == 0, popped.output
    assert read(repo_dir, "song.mid") == "song v2 (unsaved)"
    assert (repo_dir / "new.wav").read_bytes() == b"\x00new take"
    assert not (repo_dir / "stems/bass.wav").exists()
    assert stash_list_file(repo_dir) == []
    assert status(muse, repo_dir) == "A new.wav\nM song.mid\nD stems/bass.wav\n"


def test_bare_stash_is_push_and_list_is_newest_first(muse, repo_dir, base):
    write(repo_dir, "song.mid", "first idea")
    assert muse("stash", cwd=repo_dir).exit_code == 0
    write(repo_dir, "song.mid", "second idea")
    assert muse("stash", "-m", "second", cwd=repo_dir).exit_code == 0
    listed = muse("stash", "list", cwd=repo_dir).stdout.splitlines()
    assert listed[0] == "stash@{0}: second"
    assert listed[1].startswith("stash@{1}: WIP on main: ")
    data = json.loads(muse("stash", "list", "--json", cwd=repo_dir).stdout)
    assert [d["id"] for d in data] == stash_list_file(repo_dir)
    assert muse("stash", "apply", "stash@{1}", cwd=repo_dir).exit_code == 0
    assert read(repo_dir, "song.mid") == "first idea"
    assert len(stash_list_file(repo_dir)) == 2  # apply keeps it
    assert muse("stash", "drop", "1", cwd=repo_dir).exit_code == 0
    assert stash_list_file(repo_dir) == [data[0]["id"]]


def test_nothing_to_stash(muse, repo_dir, base):
    result = changes_nothing(muse, repo_dir, "stash", exit_code=0)
    assert "No local changes" in result.stdout


def test_pop_refuses_to_overwrite_like_switch(muse, repo_dir, base):
    write(repo_dir, "song.mid", "stashed idea")
    write(repo_dir, "new.wav", "stashed take")
    assert muse("stash", cwd=repo_dir).exit_code == 0
    write(repo_dir, "song.mid", "edited since")
    write(repo_dir, "new.wav", "another untracked take")
    result = changes_nothing(muse, repo_dir, "stash", "pop", exit_code=4)
    assert "new.wav (untracked)" in result.stderr
    assert "song.mid (modified)" in result.stderr
    assert len(stash_list_file(repo_dir)) == 1


def test_pop_onto_a_moved_head_applies_what_does_not_clash(muse, repo_dir, base):
    write(repo_dir, "song.mid", "stashed idea")
    assert muse("stash", cwd=repo_dir).exit_code == 0
    write(repo_dir, "stems/bass.wav", b"bass v2")
    commit(muse, repo_dir, "new bass")
    assert muse("stash", "pop", cwd=repo_dir).exit_code == 0
    assert read(repo_dir, "song.mid") == "stashed idea"
    assert (repo_dir / "stems/bass.wav").read_bytes() == b"bass v2"
    # A stash touching a file changed since it was made is refused, never merged blindly.
    write(repo_dir, "stems/bass.wav", b"bass idea")
    assert muse("stash", cwd=repo_dir).exit_code == 0
    write(repo_dir, "stems/bass.wav", b"bass v3")
    commit(muse, repo_dir, "bass v3")
    result = changes_nothing(muse, repo_dir, "stash", "pop", exit_code=4)
    assert "stems/bass.wav (modified)" in result.stderr


def test_show(muse, repo_dir, base):
    write(repo_dir, "song.mid", "song v2")
    assert muse("stash", cwd=repo_dir).exit_code == 0
    shown = muse("stash", "show", cwd=repo_dir)
    assert "song.mid | 2 +-" in shown.stdout
    assert "+song v2" in muse("stash", "show", "-p", cwd=repo_dir).stdout
    data = json.loads(muse("stash", "show", "--json", cwd=repo_dir).stdout)
    assert [c["path"] for c in data["changes"]] == ["song.mid"]


@pytest.mark.parametrize("args, code, message", [
    (("stash", "pop"), 2, "no stash entry stash@{0}"),
    (("stash", "apply", "stash@{3}"), 2, "no stash entry stash@{3}"),
    (("stash", "drop", "stash@{x}"), 2, "not a stash name"),
    (("stash", "show", "9" * 5000), 2, "no stash entry 999"),
    (("stash", "drop", "stash@{12345678901234567890}"), 2,
     "no stash entry stash@{12345678901234567890}"),
    (("stash", "show", "-1"), 2, "error: no such option: -1"),
    (("stash", "list", "-m", "x"), 2, "error: no such option: -m"),
    (("stash", "-m", "x", "list"), 2, "after the subcommand"),
])
def test_bad_input_changes_nothing(muse, repo_dir, base, args, code, message):
    write(repo_dir, "song.mid", "work in progress")
    result = changes_nothing(muse, repo_dir, *args, exit_code=code)
    assert message in result.output


def test_refusals_change_nothing(muse, repo_dir):
    write(repo_dir, "a.txt", "a")
    result = changes_nothing(muse, repo_dir, "stash", exit_code=3)
    assert "no commits yet" in result.stderr
    commit(muse, repo_dir, "a")
    assert muse("rm", "--cached", "a.txt", cwd=repo_dir).exit_code == 0
    result = changes_nothing(muse, repo_dir, "stash", exit_code=3)
    assert "rm --cached" in result.stderr


def test_damaged_stash_list(muse, repo_dir, base):
    (repo_dir / ".muse/stash.list").write_text("not-an-id\n")
    result = changes_nothing(muse, repo_dir, "stash", "list", exit_code=3)
    assert "stash.list is damaged (line 1)" in result.stderr


def test_push_streams_a_large_stem(muse, repo_dir, base):
    big = os.urandom(1 << 20) * 3
    write(repo_dir, "take.wav", big)
    assert muse("stash", cwd=repo_dir).exit_code == 0
    assert not (repo_dir / "take.wav").exists()
    assert muse("stash", "pop", cwd=repo_dir).exit_code == 0
    assert (repo_dir / "take.wav").read_bytes() == big


def test_stash_refused_during_a_merge(muse, repo_dir, base):
    from tests.branching_support import head_file

    (repo_dir / ".muse/MERGE_HEAD").write_text(base + "\n")
    write(repo_dir, "song.mid", "resolving")
    result = changes_nothing(muse, repo_dir, "stash", exit_code=3)
    assert "merge" in result.stderr
    assert head_file(repo_dir) == "ref: refs/heads/main"


def test_push_refuses_a_link_where_head_has_a_file(muse, repo_dir, base, tmp_path):
    outside = tmp_path / "elsewhere.mid"
    outside.write_text("not ours")
    (repo_dir / "song.mid").unlink()
    (repo_dir / "song.mid").symlink_to(outside)
    result = changes_nothing(muse, repo_dir, "stash", exit_code=4)
    assert "song.mid (symlink)" in result.stderr
    assert outside.read_text() == "not ours"


def test_gc_keeps_every_stash(muse, repo_dir, base):
    big = b"\x00take " * 5000
    write(repo_dir, "take.wav", big)
    write(repo_dir, "song.mid", "stashed idea")
    assert muse("stash", cwd=repo_dir).exit_code == 0
    result = muse("gc", "--prune", "now", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert muse("stash", "pop", cwd=repo_dir).exit_code == 0
    assert (repo_dir / "take.wav").read_bytes() == big
    assert read(repo_dir, "song.mid") == "stashed idea"


def test_reset_mixed_forgets_rm_cached(muse, repo_dir, base):
    assert muse("rm", "--cached", "song.mid", cwd=repo_dir).exit_code == 0
    assert muse("reset", "--mixed", "HEAD", cwd=repo_dir).exit_code == 0
    assert not (repo_dir / ".muse/untrack.list").exists()
    assert muse("rm", "--cached", "song.mid", cwd=repo_dir).exit_code == 0
    assert muse("reset", "--soft", "HEAD", cwd=repo_dir).exit_code == 0
    assert (repo_dir / ".muse/untrack.list").read_text() == "song.mid\n"  # --soft keeps it
