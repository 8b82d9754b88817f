"""`.museignore` matching: git's meaning, linear time for any pattern, bad lines refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from muse.errors import ConfigError
from muse.ignore import IgnoreRules, _path_matches, parse_pattern
from tests.branching_support import commit, write
from tests.testkit import changes_nothing

FIXTURES = Path(__file__).parent / "fixtures" / "ignore"


@pytest.mark.parametrize(("pattern", "path", "is_dir", "expected"), [
    ("*.log", "build.log", False, True),
    ("*.log", "deep/in/build.log", False, True),
    ("*.log", "build.log.txt", False, False),
    ("/top.txt", "top.txt", False, True),
    ("/top.txt", "sub/top.txt", False, False),
    ("a/*.wav", "a/x.wav", False, True),
    ("a/*.wav", "a/b/x.wav", False, False),
    ("a/**/x.wav", "a/x.wav", False, True),
    ("a/**/x.wav", "a/b/c/x.wav", False, True),
    ("**/cache", "cache", True, True),
    ("**/cache", "x/y/cache", True, True),
    ("out/**", "out", True, False),
    ("out/**", "out/a/b", False, True),
    ("build/", "build", False, False),
    ("build/", "build", True, True),
    ("take?.mid", "take1.mid", False, True),
    ("take?.mid", "take10.mid", False, False),
    ("take[0-9].mid", "take7.mid", False, True),
    ("take[!0-9].mid", "take7.mid", False, False),
    ("take[!0-9].mid", "takeX.mid", False, True),
    ("[]]x", "]x", False, True),
    ("\\#literal", "#literal", False, True),
    ("a**b", "axxb", False, True),
    ("a**b", "a/b", False, False),  # `**` inside a segment is a plain star, as in git
    ("un[closed", "un[closed", False, True),
])
def test_git_meaning(pattern: str, path: str, is_dir: bool, expected: bool) -> None:
    assert IgnoreRules([pattern]).ignored(path, is_dir=is_dir) is expected


def test_last_match_wins_and_negation() -> None:
    rules = IgnoreRules(["*.wav", "!keep.wav", "# a comment", ""])
    assert rules.ignored("drop.wav") and not rules.ignored("keep.wav")


def test_many_stars_take_linear_time() -> None:
    rules = IgnoreRules(["**a**a**a**a**a**a**a**a**a**b",
                         "**/*a*a*a*a*a*a*a*a*a*a*a*b/**/*a*a*a*a*a*a*a*a*b"])
    assert not rules.ignored("a" * 200)  # a backtracking matcher spins here for minutes
    assert not rules.ignored("/".join(["a" * 50] * 20))
    assert rules.ignored("a" * 199 + "b")


@pytest.mark.parametrize(("fixture", "message"), [
    ("reversed-range.museignore", ".museignore line 3: reversed range 'z-a' in pattern"),
    ("not-utf8.museignore", ".museignore line 2 is not valid UTF-8"),
])
def test_a_bad_ignore_file_is_one_clear_error(muse, repo_dir, fixture, message):
    write(repo_dir, "song.mid", "v1")
    commit(muse, repo_dir, "base")
    (repo_dir / ".museignore").write_bytes((FIXTURES / fixture).read_bytes())
    for args in (("status",), ("commit", "-m", "x")):
        result = changes_nothing(muse, repo_dir, *args, exit_code=ConfigError.exit_code)
        assert message in result.stderr
        assert "fix or remove that line" in result.stderr or "UTF-8" in result.stderr


def test_an_ignore_file_that_is_a_link_or_a_folder_is_not_read(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("*\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / ".museignore").symlink_to(elsewhere)
    (tmp_path / "b" / ".museignore").mkdir(parents=True)
    for root in (tmp_path / "a", tmp_path / "b"):
        assert not IgnoreRules.load(root).ignored("song.mid")


_GLOB = st.text(alphabet="ab*?/", min_size=1, max_size=12)
_PATH = st.lists(st.text(alphabet="ab", min_size=1, max_size=6), min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(_GLOB, _PATH)
def test_the_regex_and_the_state_set_agree(pattern: str, parts: list[str]) -> None:
    rule = parse_pattern(pattern)
    if rule is None or rule.regex is None:
        return
    path = "/".join(parts)
    assert rule.matches(path) == _path_matches(rule.segments, parts), (pattern, path)


def test_ignoring_a_tracked_file_keeps_it_tracked(muse, repo_dir: Path) -> None:
    # As in git: an ignore rule stops new files from being added; it never untracks one.
    import json

    write(repo_dir, "take.log", "first take notes")
    write(repo_dir, "build/keep.txt", "kept")
    commit(muse, repo_dir, "tracked")
    write(repo_dir, ".museignore", "*.log\nbuild/\n")
    write(repo_dir, "take.log", "second take notes")
    write(repo_dir, "new.log", "never tracked")
    write(repo_dir, "build/out.o", "never tracked")
    status = json.loads(muse("status", "--json", cwd=repo_dir).stdout)
    assert {c["path"]: c["status"] for c in status["changes"]} == {
        ".museignore": "added", "take.log": "modified"}
    commit(muse, repo_dir, "ignore rules")
    shown = json.loads(muse("show", "--json", "--name-status", cwd=repo_dir).stdout)
    assert sorted(c["path"] for c in shown["changes"]) == [".museignore", "take.log"]
    # Switching away and back finds no "untracked file in the way".
    assert muse("switch", "-c", "other", cwd=repo_dir).exit_code == 0
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    assert (repo_dir / "take.log").read_text() == "second take notes"


def test_status_says_once_what_a_commit_will_not_record(muse, repo_dir: Path) -> None:
    import json
    import os

    write(repo_dir, "song.mid", "MThd")
    write(repo_dir, "stems/.museignore", "*.tmp\n")  # only the top-level file is read
    os.symlink("song.mid", repo_dir / "latest.mid")
    os.symlink("/etc", repo_dir / "cache-link")
    write(repo_dir, ".museignore", "cache-link\n")  # an ignored link is not mentioned
    shown = muse("status", cwd=repo_dir)
    assert shown.exit_code == 0
    assert "note: symbolic links are not recorded: latest.mid" in shown.stderr
    assert "cache-link" not in shown.stderr
    assert "not stems/.museignore" in shown.stderr
    data = json.loads(muse("status", "--json", cwd=repo_dir).stdout)
    assert data["not_recorded"] == {"links": ["latest.mid"],
                                    "nested_ignore_files": ["stems/.museignore"],
                                    "nested_repositories": []}


def test_a_nested_repository_is_left_alone(muse, repo_dir: Path) -> None:
    import json

    write(repo_dir, "song.mid", "MThd")
    library = repo_dir / "samples" / "library"
    library.mkdir(parents=True)
    assert muse("init", cwd=library).exit_code == 0
    write(library, "kick.wav", b"\x00kick")
    assert muse("commit", "-m", "library", cwd=library).exit_code == 0
    shown = muse("status", cwd=repo_dir)
    assert shown.exit_code == 0, shown.output
    assert "samples/library" not in shown.stdout and "warning" not in shown.stderr
    assert "other Muse repositories inside this one are not recorded: samples/library/" \
        in shown.stderr
    data = json.loads(muse("status", "--json", cwd=repo_dir).stdout)
    assert data["not_recorded"]["nested_repositories"] == ["samples/library"]
    # The outer commit records its own files only, and the library is untouched.
    made = muse("commit", "-m", "session", cwd=repo_dir)
    assert made.exit_code == 0, made.output
    listed = muse("show", "--json", "--stat", cwd=repo_dir)
    assert "kick.wav" not in listed.stdout and "song.mid" in listed.stdout
    assert muse("status", "--short", cwd=library).stdout == ""


def test_a_file_tracked_before_its_folder_became_a_repository_stays_tracked(
        muse, repo_dir: Path) -> None:
    write(repo_dir, "samples/kick.wav", b"\x00kick v1")
    commit(muse, repo_dir, "with a sample")
    assert muse("init", cwd=repo_dir / "samples").exit_code == 0
    write(repo_dir, "samples/kick.wav", b"\x00kick v2")
    write(repo_dir, "samples/snare.wav", b"\x00snare")
    short = muse("status", "--short", cwd=repo_dir).stdout
    assert "samples/kick.wav" in short and "snare" not in short and ".muse" not in short


@pytest.mark.parametrize("pattern, path, expected", [
    ("a\\*b", "a*b", True), ("a\\*b", "axxb", False),
    ("a\\?b", "a?b", True), ("a\\?b", "axb", False),
    ("**/x\\*y*z*q", "d/x*yzzq", True), ("**/x\\*y*z*q", "d/x1yzzq", False),
])
def test_an_escaped_wildcard_is_a_literal(pattern: str, path: str, expected: bool) -> None:
    assert IgnoreRules([pattern]).ignored(path) is expected
