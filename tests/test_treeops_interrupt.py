"""Interrupted restore, rm, mv and stash: each file whole or untouched, no work ever lost."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import BinaryIO

import pytest

from muse.worktree import WorkTree
from tests.branching_support import commit, read, write


def work_files(root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob(".muse-tmp-*")
            if ".muse" not in p.relative_to(root).parts[:1]]


def interrupt_mid_copy(monkeypatch: pytest.MonkeyPatch, *, after_files: int = 0) -> None:
    """Make writing a file's bytes into the tree stop with Ctrl-C halfway through file
    number `after_files` (from 0)."""
    real = WorkTree._copy_out
    calls = {"n": 0}

    def copy_out(self: WorkTree, oid: str, out: BinaryIO) -> None:
        if calls["n"] < after_files:
            calls["n"] += 1
            real(self, oid, out)
            return
        out.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(WorkTree, "_copy_out", copy_out)


def test_restore_interrupted_leaves_each_file_whole(muse, repo_dir, monkeypatch):
    write(repo_dir, "a.wav", b"a committed")
    write(repo_dir, "b.wav", b"b committed")
    commit(muse, repo_dir, "two stems")
    write(repo_dir, "a.wav", b"a edited")
    write(repo_dir, "b.wav", b"b edited")
    interrupt_mid_copy(monkeypatch, after_files=1)
    result = muse("restore", ".", cwd=repo_dir)
    assert result.exit_code == 130
    contents = {(repo_dir / n).read_bytes() for n in ("a.wav", "b.wav")}
    # One file was restored, the other kept its edit: neither is half-written.
    assert contents == {b"a committed", b"b edited"} or contents == {b"a edited",
                                                                       b"b committed"}
    assert work_files(repo_dir) == []


def test_stash_interrupted_while_cleaning_the_tree_loses_nothing(muse, repo_dir, monkeypatch):
    write(repo_dir, "a.wav", b"a v1")
    write(repo_dir, "b.wav", b"b v1")
    commit(muse, repo_dir, "base")
    write(repo_dir, "a.wav", b"a idea")
    write(repo_dir, "b.wav", b"b idea")
    write(repo_dir, "c.wav", b"c new")
    interrupt_mid_copy(monkeypatch, after_files=1)
    assert muse("stash", cwd=repo_dir).exit_code == 130
    monkeypatch.undo()
    listed = (repo_dir / ".muse/stash.list").read_text().split()
    assert len(listed) == 1  # stored and named before the tree was touched
    assert work_files(repo_dir) == []
    # Popping brings the whole stashed tree back from whatever state the tree was left in.
    result = muse("stash", "pop", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert [read(repo_dir, n) for n in ("a.wav", "b.wav", "c.wav")] == ["a idea", "b idea",
                                                                       "c new"]


def test_pop_interrupted_puts_the_tree_back_and_keeps_the_stash(muse, repo_dir, monkeypatch):
    write(repo_dir, "a.wav", b"a v1")
    write(repo_dir, "b.wav", b"b v1")
    commit(muse, repo_dir, "base")
    write(repo_dir, "a.wav", b"a idea")
    write(repo_dir, "b.wav", b"b idea")
    assert muse("stash", cwd=repo_dir).exit_code == 0
    real_write = WorkTree.write_entry
    calls = {"n": 0}

    def write_entry(self: WorkTree, entry: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        real_write(self, entry)  # type: ignore[arg-type]

    monkeypatch.setattr(WorkTree, "write_entry", write_entry)
    assert muse("stash", "pop", cwd=repo_dir).exit_code == 130
    monkeypatch.undo()
    assert len((repo_dir / ".muse/stash.list").read_text().split()) == 1
    assert muse("status", "--short", cwd=repo_dir).stdout == ""  # put back as it was


def test_killed_restore_of_a_large_file(muse, repo_dir):
    big = os.urandom(1 << 20) * 48
    write(repo_dir, "take.wav", big)
    commit(muse, repo_dir, "take")
    write(repo_dir, "take.wav", b"edited")
    proc = muse.popen("restore", "take.wav", cwd=repo_dir)
    time.sleep(0.4)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # Whole old or whole new, never a mix; a partial work file is never listed or recorded.
    assert (repo_dir / "take.wav").read_bytes() in (big, b"edited")
    assert muse("status", "--short", cwd=repo_dir).stdout in ("", "M take.wav\n")
    assert work_files(repo_dir) == []  # the scan swept what the killed command left


def test_restore_never_writes_through_a_linked_folder(muse, repo_dir, tmp_path):
    write(repo_dir, "stems/a.wav", b"a")
    commit(muse, repo_dir, "a")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (repo_dir / "stems/a.wav").unlink()
    (repo_dir / "stems").rmdir()
    (repo_dir / "stems").symlink_to(outside)
    result = muse("restore", "stems", cwd=repo_dir)
    assert result.exit_code == 4, result.output
    assert "symlink" in result.stderr or "symbolic link" in result.stderr
    assert list(outside.iterdir()) == []
