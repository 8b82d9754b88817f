"""The working tree's safety rules: no write or unlink through a link, exclusive work files,
names any filesystem can hold, and partial files of a killed command never recorded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from muse.errors import ConflictError
from muse.safetree import SafeTree
from muse.workfiles import STALE_AFTER, owner_of, survey, tmp_name
from tests.branching_support import commit, read, ref, write
from tests.testkit import changes_nothing, tree_state


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the repository that nothing may ever touch."""
    place = tmp_path / "outside"
    place.mkdir()
    (place / "f").write_text("not yours")
    (place / "victim").write_text("precious")
    return place


@pytest.fixture
def two_branches(muse, repo_dir: Path) -> Path:
    """main tracks d/f and song.mid; other has neither d/f nor d, and adds e/g."""
    write(repo_dir, "song.mid", "v1")
    write(repo_dir, "d/f", "tracked")
    commit(muse, repo_dir, "main")
    assert muse("switch", "-c", "other", cwd=repo_dir).exit_code == 0
    (repo_dir / "d/f").unlink()
    (repo_dir / "d").rmdir()
    write(repo_dir, "e/g", "added on other")
    commit(muse, repo_dir, "other")
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    return repo_dir


def _link_folder(repo_dir: Path, name: str, target: Path) -> None:
    for child in (repo_dir / name).iterdir():
        child.unlink()
    (repo_dir / name).rmdir()
    (repo_dir / name).symlink_to(target, target_is_directory=True)


# -- item 1: nothing is unlinked, written or created through a symlinked folder ------------


@pytest.mark.parametrize("args", [("switch", "other"), ("switch", "--force", "other"),
                                  ("reset", "--hard", "other")])
def test_a_symlinked_folder_is_refused_not_followed(muse, two_branches, outside, args):
    repo_dir = two_branches
    _link_folder(repo_dir, "d", outside)
    before = tree_state(outside)
    result = changes_nothing(muse, repo_dir, *args, exit_code=4)
    assert "d (symlink)" in result.stderr
    assert tree_state(outside) == before
    assert ref(repo_dir, "refs/heads/main") is not None and read(repo_dir, "song.mid") == "v1"


def test_no_file_is_created_through_a_symlinked_folder(muse, two_branches, outside):
    repo_dir = two_branches
    (repo_dir / "e").symlink_to(outside, target_is_directory=True)
    before = tree_state(outside)
    result = changes_nothing(muse, repo_dir, "switch", "--force", "other", exit_code=4)
    assert "e (symlink)" in result.stderr
    assert tree_state(outside) == before


def test_the_writer_itself_refuses_a_link_planted_after_planning(repo_dir, outside):
    # The rule holds at the lowest level too, should a link appear between check and write.
    (repo_dir / "d").symlink_to(outside, target_is_directory=True)
    tree = SafeTree(repo_dir)
    before = tree_state(outside)
    with pytest.raises(ConflictError, match="a symbolic link at 'd' is in the way"):
        tree.write("d/new", lambda out: out.write(b"x"), 0o644)
    tree.remove("d/f")  # not in the tree: a no-op, never an unlink through the link
    tree.remove("d/victim")
    assert tree_state(outside) == before
    assert (repo_dir / "d").is_symlink()


# -- item 2: work files are created exclusively, never through a planted link --------------


def test_a_link_at_the_old_fixed_temp_name_is_not_written_through(muse, two_branches, outside):
    repo_dir = two_branches
    (repo_dir / "e").mkdir()
    (repo_dir / "e" / ".g.muse-tmp").symlink_to(outside / "victim")
    result = muse("switch", "other", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert (outside / "victim").read_text() == "precious"
    assert read(repo_dir, "e/g") == "added on other"


def test_a_planted_link_at_the_work_name_is_skipped(repo_dir, outside):
    names = iter([".muse-tmp-planted", tmp_name()])
    (repo_dir / ".muse-tmp-planted").symlink_to(outside / "victim")
    tree = SafeTree(repo_dir, work_name=lambda: next(names))
    tree.write("song.mid", lambda out: out.write(b"mine"), 0o644)
    assert (repo_dir / "song.mid").read_bytes() == b"mine"
    assert (outside / "victim").read_text() == "precious"
    assert os.readlink(repo_dir / ".muse-tmp-planted") == str(outside / "victim")


def test_work_names_are_short_unique_and_owned():
    names = {tmp_name() for _ in range(50)}
    assert len(names) == 50
    for name in names:
        assert len(name.encode()) < 80
        owner = owner_of(name)
        assert owner is not None and owner.pid == os.getpid()


# -- item 13: long names -------------------------------------------------------------------


def test_a_255_byte_name_switches_and_comes_back(muse, repo_dir):
    name = "n" * 251 + ".mid"
    write(repo_dir, "keep.txt", "k")
    commit(muse, repo_dir, "base")
    assert muse("switch", "-c", "long", cwd=repo_dir).exit_code == 0
    write(repo_dir, f"deep/{name}", "long name")
    commit(muse, repo_dir, "long")
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    assert not (repo_dir / "deep").exists()
    result = muse("switch", "long", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert read(repo_dir, f"deep/{name}") == "long name"
    assert muse("status", "--short", cwd=repo_dir).stdout == ""


# -- item 17: a killed command's partial files are never listed, and are cleaned -----------


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_partial_work_files_are_not_listed_and_a_dead_writers_go(muse, repo_dir):
    write(repo_dir, "song.mid", "v1")
    commit(muse, repo_dir, "base")
    live = repo_dir / tmp_name()
    live.write_bytes(b"being written by this process")
    parts = tmp_name().split("-")
    parts[3] = str(_dead_pid())  # the same name, as a killed command's
    parts[4] = "x"
    dead = repo_dir / "stems" / "-".join(parts)
    dead.parent.mkdir()
    dead.write_bytes(b"half a stem")
    status = muse("status", "--short", cwd=repo_dir)
    assert status.exit_code == 0 and status.stdout == ""
    assert not dead.exists()
    assert live.exists()  # its writer is alive: it will rename it itself
    assert muse("commit", "-m", "nothing", cwd=repo_dir).exit_code == 2


def test_a_foreign_host_work_file_goes_only_when_old(muse, repo_dir):
    foreign = repo_dir / ".muse-tmp-00000000-1-x-0123456789abcdef"
    foreign.write_bytes(b"from another machine")
    assert muse("status", "--short", cwd=repo_dir).stdout == ""
    assert foreign.exists()
    old = os.stat(foreign).st_mtime - STALE_AFTER - 60
    os.utime(foreign, (old, old))
    assert muse("status", "--short", cwd=repo_dir).stdout == ""
    assert not foreign.exists()


def test_a_user_file_in_the_reserved_namespace_is_refused_not_hidden(muse, repo_dir):
    write(repo_dir, ".muse-tmp-notes.txt", "mine")
    result = changes_nothing(muse, repo_dir, "commit", "-m", "x", exit_code=2)
    assert "Muse's work files" in result.stderr
    assert (repo_dir / ".muse-tmp-notes.txt").read_text() == "mine"


@pytest.mark.parametrize("args", [("switch", "-c", "x" * 300), ("branch", "y" * 256),
                                  ("tag", "t" * 201)])
def test_a_ref_name_too_long_for_a_file_is_a_usage_error(muse, repo_dir, args):
    write(repo_dir, "song.mid", "v1")
    commit(muse, repo_dir, "base")
    result = changes_nothing(muse, repo_dir, *args, exit_code=2)
    assert "over 200 bytes" in result.stderr or "invalid" in result.stderr


# -- item 16: what killed commands leave in .muse/tmp is swept, and verify reports it -------


def _age(path: Path, seconds: float) -> None:
    for sub in [path, *path.rglob("*")]:
        then = os.lstat(sub).st_mtime - seconds
        os.utime(sub, (then, then), follow_symlinks=False)


def test_stale_work_files_are_swept_and_live_ones_reported(muse, repo_dir):
    import json

    from muse.workfiles import work_prefix

    tmp = repo_dir / ".muse" / "tmp"
    old_file = tmp / "tmpk1ll3d"  # a store temp file: no owner in its name, only its age
    old_file.write_bytes(b"x" * 1000)
    old_batch = tmp / "batch-abc"
    (old_batch / "obj").mkdir(parents=True)
    (old_batch / "obj" / "part").write_bytes(b"y" * 2000)
    _age(old_file, STALE_AFTER + 60)
    _age(old_batch, STALE_AFTER + 60)
    busy_batch = tmp / "batch-busy"  # an old folder, but a file in it is being written
    busy_batch.mkdir()
    (busy_batch / "growing").write_bytes(b"z" * 10)
    os.utime(busy_batch, (0, 0))
    recent = tmp / "tmpfresh"
    recent.write_bytes(b"r" * 10)
    parts = (work_prefix() + "dead").split("-")
    parts[3], parts[4] = str(_dead_pid()), "x"
    dead = tmp / "-".join(parts)
    dead.write_bytes(b"d" * 500)
    live = tmp / (work_prefix() + "mine")
    live.write_bytes(b"l" * 30)
    found = survey(tmp)
    assert (found.entries, found.stale_entries, found.stale_size) == (6, 3, 3500)

    result = muse("verify", "--json", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp.iterdir()) == sorted(
        ["batch-busy", "tmpfresh", live.name])
    assert json.loads(result.stdout)["work_files"] == {
        "entries": 3, "bytes": 50, "stale_entries": 0, "stale_bytes": 0}
    shown = muse("verify", cwd=repo_dir)
    assert "work files: 3 in .muse/tmp" in shown.stdout


def test_hashing_never_reads_through_a_link_swapped_in_after_the_scan(tmp_path, outside):
    from muse.worktree import hash_file

    (tmp_path / "song.mid").symlink_to(outside / "victim")
    with pytest.raises(OSError):
        hash_file(tmp_path / "song.mid")


# -- sessions: folder descriptors kept open between files -----------------------------------


def _fill(text: str):
    return lambda out: out.write(text.encode())


def test_a_session_writes_each_file_as_a_single_write_would(tmp_path: Path) -> None:
    tree = SafeTree(tmp_path)
    with tree.session():
        for i in range(5):
            tree.write(f"a/b/take{i}.wav", _fill(f"take {i}"), 0o644)
        tree.write("c.mid", _fill("verse"), 0o644)
        tree.remove("a/b/take0.wav")
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == [
        f"take{i}.wav" for i in range(1, 5)]
    assert (tmp_path / "c.mid").read_text() == "verse"


def test_a_folder_removed_in_a_session_is_made_again_for_a_later_file(tmp_path: Path) -> None:
    tree = SafeTree(tmp_path)
    with tree.session():
        tree.write("a/only.wav", _fill("x"), 0o644)
        tree.remove("a/only.wav")  # leaves `a` empty: it goes
        assert not (tmp_path / "a").exists()
        tree.write("a/again.wav", _fill("y"), 0o644)  # not into the removed folder
    assert (tmp_path / "a" / "again.wav").read_text() == "y"


def test_a_folder_swapped_for_a_link_mid_session_never_sends_a_write_through_it(
        tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "work"
    root.mkdir()
    tree = SafeTree(root)
    before = sorted(p.name for p in outside.iterdir())
    with tree.session():
        tree.write("stems/one.wav", _fill("one"), 0o644)
        (root / "stems").rename(tmp_path / "moved")
        (root / "stems").symlink_to(outside)
        tree.write("stems/two.wav", _fill("two"), 0o644)
    assert sorted(p.name for p in outside.iterdir()) == before  # nothing through the link
    # The write went to the folder that was opened (wherever it was moved), never elsewhere.
    assert (tmp_path / "moved" / "two.wav").read_text() == "two"
    # A new session sees the link and refuses.
    with pytest.raises(ConflictError), tree.session():
        tree.write("stems/three.wav", _fill("three"), 0o644)
