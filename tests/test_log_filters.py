"""`muse log --author/--grep/--since/--until`: which commits show, checked against git's."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.testkit import changes_nothing
from tests.twin_history import START, Twin


@pytest.fixture
def twin(muse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Twin:
    made = Twin(muse, tmp_path, monkeypatch)
    made.commit("Verse demo", {"song.txt": "verse\n"})
    made.commit("Chorus take\n\nBass by Ada.", {"song.txt": "verse\nchorus\n"})
    made.branch("side")
    made.switch("side")
    made.commit("Bridge sketch", {"bridge.txt": "bridge\n"})
    made.switch("main")
    made.merge("side", "Merge the bridge")
    made.commit("Outro FIX", {"song.txt": "verse\nchorus\noutro\n"})
    return made


def iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()


def subjects(twin: Twin, *args: str) -> list[str]:
    return twin.ok("log", "--format=%s", *args).splitlines()


@pytest.mark.parametrize("args", [
    ("--grep", "take"),
    ("--grep", "Ada"),                     # in the body, not the subject
    ("--grep", "^(Verse|Outro)"),
    ("--grep", "fix", "-i"),
    ("--author", "Test Musician"),
    ("--author", "example\\.org>$"),
    ("--author", "nobody"),
    ("--since", f"@{START + 150}"),        # git's @UNIX form; ours below takes ISO
])
def test_filters_match_git(twin, args):
    git_args = list(args)
    muse_args = ["--since", iso(START + 150)] if args[0] == "--since" else list(args)
    ours = subjects(twin, *muse_args)
    # Muse's patterns are extended regular expressions (Python's), as `git log -E` reads them.
    theirs = twin.git("log", "-E", "--format=%s", *git_args).splitlines()
    assert ours == theirs


def test_since_and_until_bound_both_ends(twin):
    # Commits are a minute apart from START + 60: Verse, Chorus, Bridge, Merge, Outro.
    assert subjects(twin, "--since", iso(START + 120), "--until", iso(START + 180)) == [
        "Bridge sketch", "Chorus take"]
    assert subjects(twin, "--after", iso(START + 300)) == ["Outro FIX"]
    assert subjects(twin, "--before", iso(START + 60)) == ["Verse demo"]
    assert subjects(twin, "--since", "1.week.ago") == []  # START is in 2023


def test_filtered_graph_is_drawn_as_git_draws_it(twin):
    pattern = "[Bb]ridge|Verse"
    drawn = twin.ok("log", "--graph", "--format=%s", "--grep", pattern)
    assert drawn.rstrip("\n") == twin.git("log", "--graph", "-E", "--format=%s", "--grep", pattern)
    assert "Chorus take" not in drawn  # hidden, and the lanes pass through it


@pytest.mark.parametrize("args, message", [
    (("--grep", "("), "--grep: not a regular expression"),
    (("--author", "[a"), "--author: not a regular expression"),
    (("--since", "someday"), "cannot read the --since date 'someday'"),
    (("--until", "never"), "--until needs a date, not 'never'"),
])
def test_bad_filters_change_nothing(twin, muse, args, message):
    result = changes_nothing(muse, twin.m, "log", *args, exit_code=2)
    assert message in result.stderr
