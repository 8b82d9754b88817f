"""`muse show REV:PATH`: a file's bytes as a commit has them, or a folder's names, as git."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.branching_support import commit, write
from tests.remote_support import ok
from tests.testkit import changes_nothing


@pytest.fixture
def history(muse, repo_dir):
    write(repo_dir, "lyrics.txt", "first verse\n")
    write(repo_dir, "stems/bass.wav", bytes(range(256)) * 64)
    write(repo_dir, "stems/takes/one.wav", b"\x00" * 10)
    first = commit(muse, repo_dir, "first")
    write(repo_dir, "lyrics.txt", "second verse\n")
    commit(muse, repo_dir, "second")
    return repo_dir, first


def test_a_file_as_each_commit_has_it(muse, history):
    root, first = history
    assert ok(muse("show", "HEAD:lyrics.txt", cwd=root)).stdout == "second verse\n"
    assert ok(muse("show", f"{first[:12]}:lyrics.txt", cwd=root)).stdout == "first verse\n"
    assert ok(muse("show", ":lyrics.txt", cwd=root)).stdout == "second verse\n"  # HEAD


def test_binary_bytes_come_out_unchanged(muse, history):
    root, _ = history
    done = subprocess.run([sys.executable, "-m", "muse", "show", "HEAD:stems/bass.wav"],
                          cwd=root, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == bytes(range(256)) * 64


def test_a_folder_lists_one_level(muse, history):
    root, _ = history
    assert ok(muse("show", "HEAD:", cwd=root)).stdout == "tree HEAD:\n\nlyrics.txt\nstems/\n"
    assert ok(muse("show", "HEAD:stems", cwd=root)).stdout == \
        "tree HEAD:stems\n\nbass.wav\ntakes/\n"


@pytest.mark.parametrize("args, message", [
    (("HEAD:nope.txt",), "'nope.txt' is not in HEAD"),
    (("HEAD:stem",), "'stem' is not in HEAD"),  # a prefix of a folder is not the folder
    (("HEAD:lyrics.txt", "--stat"), "REV:PATH shows a file's content"),
    (("nosuch:lyrics.txt",), "unknown revision"),
])
def test_bad_paths_are_one_error(muse, history, args, message):
    root, _ = history
    result = changes_nothing(muse, root, "show", *args, exit_code=2)
    assert message in result.stderr and result.stdout == ""
