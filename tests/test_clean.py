"""`muse clean`: untracked files go, and nothing else ever does."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.branching_support import commit, write
from tests.testkit import changes_nothing, tree_state


@pytest.fixture
def session(muse, repo_dir: Path) -> Path:
    """Tracked stems and an ignore file; then a bounce, a scratch take (ignored), a render
    folder (ignored) and a folder of junk that holds nothing tracked."""
    write(repo_dir, "stems/bass.wav", b"\x00bass")
    write(repo_dir, "song.mid", "MThd")
    write(repo_dir, ".museignore", "renders/\n*.tmp\n")
    commit(muse, repo_dir, "base")
    write(repo_dir, "stems/bounce.wav", b"\x00bounce")
    write(repo_dir, "scratch.tmp", "scratch")
    write(repo_dir, "renders/old/mix.wav", b"\x00mix")
    write(repo_dir, "junk/notes.txt", "junk")
    return repo_dir


def cleaned(muse, root: Path, *args: str) -> dict:
    result = muse("clean", "--json", *args, cwd=root)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def test_dry_run_lists_and_changes_nothing(muse, session):
    result = changes_nothing(muse, session, "clean", "-n", exit_code=0)
    assert result.stdout == "Would remove stems/bounce.wav\n"
    assert "Would skip junk/ (an untracked folder: -d cleans it too)" in result.stderr


@pytest.mark.parametrize("args, removed", [
    ((), ["stems/bounce.wav"]),
    (("-d",), ["junk/notes.txt", "stems/bounce.wav"]),
    (("-x",), ["scratch.tmp", "stems/bounce.wav"]),
    (("-x", "-d"), ["junk/notes.txt", "renders/old/mix.wav", "scratch.tmp",
                    "stems/bounce.wav"]),
    (("-X", "-d"), ["renders/old/mix.wav", "scratch.tmp"]),
    (("-d", "-e", "bounce*"), ["junk/notes.txt"]),
    (("-d", "stems"), ["stems/bounce.wav"]),
])
def test_what_each_option_removes(muse, session, args, removed):
    before = tree_state(session)
    assert cleaned(muse, session, "-n", *args)["removed"] == removed
    assert tree_state(session) == before  # -n removes nothing
    done = cleaned(muse, session, "-f", *args)
    assert done["removed"] == removed and done["dry_run"] is False
    for path in removed:
        assert not (session / path).exists()
    # Every tracked file is still there, unchanged.
    assert (session / "stems/bass.wav").read_bytes() == b"\x00bass"
    assert (session / "song.mid").read_text() == "MThd"
    kept = {p for p in before if p not in removed}
    assert set(tree_state(session)) == kept


def test_folders_left_empty_go_too(muse, session):
    cleaned(muse, session, "-f", "-x", "-d")
    assert not (session / "renders").exists() and not (session / "junk").exists()
    assert (session / "stems").is_dir()


def test_never_touched(muse, session, tmp_path):
    # A pending `rm --cached` (the file was kept on purpose), a symbolic link, a nested
    # repository, and a merge's side files.
    assert muse("rm", "--cached", "song.mid", cwd=session).exit_code == 0
    os.symlink("stems/bass.wav", session / "latest.wav")
    library = session / "library"
    library.mkdir()
    assert muse("init", cwd=library).exit_code == 0
    write(library, "kick.wav", b"\x00kick")
    done = cleaned(muse, session, "-f", "-x", "-d")
    assert "song.mid" not in done["removed"] and (session / "song.mid").exists()
    assert os.path.islink(session / "latest.wav")
    assert (library / "kick.wav").exists() and (library / ".muse").is_dir()


def test_a_merges_side_files_stay(muse, session):
    cleaned(muse, session, "-f", "-x", "-d")
    assert muse("switch", "-c", "other", cwd=session).exit_code == 0
    write(session, "stems/bass.wav", b"\x00bass other")
    commit(muse, session, "other")
    assert muse("switch", "main", cwd=session).exit_code == 0
    write(session, "stems/bass.wav", b"\x00bass main")
    commit(muse, session, "main")
    assert muse("merge", "other", cwd=session).exit_code == 1
    sides = sorted(p.name for p in (session / "stems").glob("bass~*"))
    assert sides
    done = cleaned(muse, session, "-f", "-d")
    assert done["removed"] == []
    assert sorted(p.name for p in (session / "stems").glob("bass~*")) == sides


@pytest.mark.parametrize("args, code, message", [
    ((), 2, "refusing to clean without -f"),
    (("-f", "-x", "-X"), 2, "-x and -X cannot be combined"),
    (("-f", "../outside"), 2, "outside the repository"),
    (("-n", "-e", "[z-a]"), 2, "-e pattern 1"),
])
def test_refusals_change_nothing(muse, session, args, code, message):
    result = changes_nothing(muse, session, "clean", *args, exit_code=code)
    assert message in result.stderr and "Traceback" not in result.output


def test_outside_a_repository(muse, tmp_path):
    (tmp_path / "a.wav").write_bytes(b"x")
    result = changes_nothing(muse, tmp_path, "clean", "-f", exit_code=3)
    assert "not a Muse repository" in result.stderr
