"""Untrusted text: refused where Muse records it, escaped wherever Muse prints it,
and Muse's own text files that are not UTF-8 reported as one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from muse.cli.base import report_error
from muse.display import printable, printable_lines
from muse.errors import UsageError
from tests.branching_support import commit, write
from tests.testkit import MuseRunner, changes_nothing


def test_printable_escapes_every_control_but_tab() -> None:
    assert printable("Ada\nSignature: good") == "Ada\\x0aSignature: good"
    assert printable("\x1b[31mred\x1b[0m\r") == "\\x1b[31mred\\x1b[0m\\x0d"
    assert printable("a\tb") == "a\tb"
    assert printable("\x9b2J \u202eevil \u2028 \ud800") == "\\x9b2J \\u202eevil \\u2028 \\ud800"
    # A byte that was not UTF-8 (Python's surrogateescape) is shown as that byte.
    name = b"caf\xe9 take \xff.wav".decode("utf-8", "surrogateescape")
    assert printable(name) == "caf\\xe9 take \\xff.wav"
    assert printable("Zoë 🎵 ünïcödé") == "Zoë 🎵 ünïcödé"


def test_printable_lines_split_on_newlines_only() -> None:
    assert printable_lines("subject\n\nbody\x0cpage\u2028x\n") == [
        "subject", "", "body\\x0cpage\\u2028x"]
    assert printable_lines("") == []


def test_error_messages_and_hints_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    report_error(UsageError("unknown remote 'x\x1b]0;owned\x07'", hint="line\nerror: fake"))
    err = capsys.readouterr().err
    assert err == ("error: unknown remote 'x\\x1b]0;owned\\x07'\n"
                   "hint: line\\x0aerror: fake\n")


@pytest.mark.parametrize("variable, value", [
    ("MUSE_AUTHOR_NAME", "Ada\nSignature: good"),
    ("MUSE_AUTHOR_EMAIL", "ada@example.org\x1b[1A"),
])
def test_commit_refuses_an_identity_with_control_characters(
        muse: MuseRunner, repo_dir: Path, monkeypatch: pytest.MonkeyPatch,
        variable: str, value: str) -> None:
    write(repo_dir, "song.mid", "v1")
    monkeypatch.setenv(variable, value)
    result = changes_nothing(muse, repo_dir, "commit", "-m", "take", exit_code=7)
    assert "holds a control character" in result.stderr


def test_commit_refuses_a_message_with_control_characters(
        muse: MuseRunner, repo_dir: Path) -> None:
    write(repo_dir, "song.mid", "v1")
    result = changes_nothing(muse, repo_dir, "commit", "-m", "take\r\x1b[2K", exit_code=2)
    assert "commit message holds a control character U+000D" in result.stderr
    assert muse("commit", "-m", "take\n\n\tdetails", cwd=repo_dir).exit_code == 0


def test_status_and_show_escape_unprintable_file_names(muse: MuseRunner,
                                                       repo_dir: Path) -> None:
    name = "take\u009b2J\u202e.mid"  # the path rule lets C1 and bidi controls through
    write(repo_dir, name, "v1")
    short = muse("status", "--short", cwd=repo_dir)
    assert short.stdout == "A take\\x9b2J\\u202e.mid\n"
    assert "\u009b" not in muse("status", cwd=repo_dir).stdout
    commit(muse, repo_dir, "add")
    shown = muse("show", "--name-status", cwd=repo_dir).stdout
    assert "take\\x9b2J\\u202e.mid" in shown and "\u202e" not in shown


# -- Muse's own text files that are not UTF-8 -----------------------------------------


def test_a_non_utf8_repository_config_is_a_config_error(muse: MuseRunner,
                                                        repo_dir: Path) -> None:
    config = repo_dir / ".muse/config"
    config.write_bytes(config.read_bytes() + b"[user]\nname = Ad\xe9\n")
    line = config.read_bytes().count(b"\n")
    result = changes_nothing(muse, repo_dir, "status", exit_code=7)
    assert f"{config} is not valid UTF-8 (line {line})" in result.stderr
    assert "Traceback" not in result.output


def test_a_non_utf8_user_config_is_a_config_error(muse: MuseRunner, muse_home: Path,
                                                  repo_dir: Path) -> None:
    user = muse_home / "config"
    user.write_bytes(b"\xff\xfe[user]\n")
    result = changes_nothing(muse, repo_dir, "commit", "-m", "x", "--allow-empty",
                             exit_code=7, root=muse_home.parent)
    assert f"{user} is not valid UTF-8 (line 1)" in result.stderr


def test_a_non_utf8_head_is_a_repository_error(muse: MuseRunner, repo_dir: Path) -> None:
    (repo_dir / ".muse/HEAD").write_bytes(b"ref: refs/heads/ma\xefn\n")
    result = changes_nothing(muse, repo_dir, "status", exit_code=3)
    assert "HEAD is not valid UTF-8 (line 1)" in result.stderr


def test_a_damaged_merge_head_is_reported_and_abort_still_works(muse: MuseRunner,
                                                                repo_dir: Path) -> None:
    write(repo_dir, "song.mid", "v1")
    commit(muse, repo_dir, "one")
    for damage in (b"\xff" * 64 + b"\n", b"not an id\n"):
        (repo_dir / ".muse/MERGE_HEAD").write_bytes(damage)
        result = changes_nothing(muse, repo_dir, "status", exit_code=3)
        assert "MERGE_HEAD" in result.stderr and "merge --abort" in result.stderr
        assert muse("merge", "--abort", cwd=repo_dir).exit_code == 0
        assert not (repo_dir / ".muse/MERGE_HEAD").exists()


@pytest.mark.parametrize("damage", [b"\xff[]", b"[" * 100_000 + b"]" * 100_000])
def test_a_damaged_conflict_record_is_a_repository_error(muse: MuseRunner, repo_dir: Path,
                                                         damage: bytes) -> None:
    write(repo_dir, "song.mid", "v1")
    head = commit(muse, repo_dir, "one")
    (repo_dir / ".muse/MERGE_HEAD").write_text(head + "\n")
    (repo_dir / ".muse/MERGE_CONFLICTS").write_bytes(damage)
    result = changes_nothing(muse, repo_dir, "status", exit_code=3)
    assert "MERGE_CONFLICTS" in result.stderr and "merge --abort" in result.stderr
    assert muse("merge", "--abort", cwd=repo_dir).exit_code == 0
