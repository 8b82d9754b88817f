"""`muse ls-files`: the files the next commit records, for scripts (`| xargs`, `-z`)."""

from __future__ import annotations

import json

from tests.branching_support import commit, write
from tests.remote_support import ok
from tests.testkit import changes_nothing, tree_state


def test_lists_what_the_next_commit_records(muse, repo_dir):
    write(repo_dir, "song.mid", "verse")
    write(repo_dir, "stems/bass.wav", b"\x00" * 10)
    write(repo_dir, ".museignore", "*.tmp\nrenders/\n")
    write(repo_dir, "mix.tmp", "scratch")
    write(repo_dir, "renders/final.wav", b"\x01")
    commit(muse, repo_dir, "first")
    write(repo_dir, "new idea.txt", "untracked so far: the next commit takes it")
    write(repo_dir, "keep.tmp", "x")
    ok(muse("rm", "--cached", "stems/bass.wav", cwd=repo_dir))
    before = tree_state(repo_dir)
    listed = ok(muse("ls-files", cwd=repo_dir)).stdout.splitlines()
    assert listed == [".museignore", "new idea.txt", "song.mid"]
    assert tree_state(repo_dir) == before  # nothing hashed into the store, nothing written
    assert ok(muse("ls-files", "--json", cwd=repo_dir)).stdout == \
        json.dumps(listed, indent=2) + "\n"


def test_paths_and_nul_separated(muse, repo_dir):
    write(repo_dir, "stems/bass.wav", b"\x00")
    write(repo_dir, "stems/chœur take 2.wav", b"\x00")
    write(repo_dir, "song.mid", "verse")
    out = ok(muse("ls-files", "-z", "stems", cwd=repo_dir)).stdout
    assert out == "stems/bass.wav\0stems/chœur take 2.wav\0"


def test_a_name_no_commit_could_store_is_a_warning(muse, repo_dir):
    write(repo_dir, "song.mid", "verse")
    write(repo_dir, "line\nbreak.wav", b"\x00")
    result = ok(muse("ls-files", cwd=repo_dir))
    assert result.stdout == "song.mid\n"
    assert "warning: skipped:" in result.stderr and "line\\nbreak.wav" in result.stderr


def test_a_tracked_file_an_ignore_rule_matches_stays_listed(muse, repo_dir):
    write(repo_dir, "mix.wav", b"\x00")
    commit(muse, repo_dir, "first")
    write(repo_dir, ".museignore", "*.wav\n")
    assert ok(muse("ls-files", cwd=repo_dir)).stdout == ".museignore\nmix.wav\n"


def test_a_path_outside_the_tree_is_refused(muse, repo_dir, tmp_path):
    result = changes_nothing(muse, repo_dir, "ls-files", str(tmp_path), exit_code=2)
    assert result.stderr.startswith("error:")
