"""`muse commit` with no -m/-F writes the message in the user's editor, as git does."""

from __future__ import annotations

from pathlib import Path

import pytest

from muse.cli.editor import cleaned
from tests.branching_support import commit, repo, write
from tests.testkit import MuseRunner, changes_nothing


def _editor(tmp_path: Path, writes: str | None, status: int = 0) -> Path:
    """An editor script: keeps a copy of what it was given, then writes `writes`."""
    script = tmp_path / "editor.sh"
    body = f"cp \"$1\" {tmp_path / 'seen.txt'}\n"
    if writes is not None:
        body += f"cat > \"$1\" <<'END'\n{writes}END\n"
    script.write_text(f"#!/bin/sh\n{body}exit {status}\n")
    script.chmod(0o755)
    return script


def _head_message(root: Path) -> str:
    found = repo(root)
    head = found.head()
    assert head is not None
    return found.graph.commit(head).message


def test_the_editor_writes_the_message_cleaned_as_git_does(
        muse: MuseRunner, repo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write(repo_dir, "drums.mid", "take 1")
    commit(muse, repo_dir, "drums")
    write(repo_dir, "drums.mid", "take 2")
    monkeypatch.setenv("MUSE_EDITOR", str(_editor(tmp_path, "Drums, take 2   \n\n\n"
                                                  "# a note\nTighter hi-hat.\n\n")))
    result = muse("commit", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert _head_message(repo_dir) == "Drums, take 2\n\nTighter hi-hat."
    seen = (tmp_path / "seen.txt").read_text()
    assert seen.startswith("\n# Please enter the commit message")
    assert "# On branch main\n" in seen and "modified:   drums.mid" in seen


def test_an_amend_opens_heads_message_and_no_edit_keeps_it(
        muse: MuseRunner, repo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write(repo_dir, "bass.wav", "take 1")
    commit(muse, repo_dir, "Bass\n\nfirst pass")
    monkeypatch.setenv("MUSE_EDITOR", str(_editor(tmp_path, "Bass, fixed\n")))
    assert muse("commit", "--amend", cwd=repo_dir).exit_code == 0
    assert (tmp_path / "seen.txt").read_text().startswith("Bass\n\nfirst pass\n\n# Please")
    assert _head_message(repo_dir) == "Bass, fixed"
    monkeypatch.setenv("MUSE_EDITOR", "false")  # would fail if it were opened
    write(repo_dir, "bass.wav", "take 2")
    assert muse("commit", "--amend", "--no-edit", cwd=repo_dir).exit_code == 0
    assert _head_message(repo_dir) == "Bass, fixed"


def test_a_message_left_empty_aborts_and_records_nothing(
        muse: MuseRunner, repo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write(repo_dir, "keys.mid", "x")
    monkeypatch.setenv("MUSE_EDITOR", str(_editor(tmp_path, None)))  # leaves the template
    result = changes_nothing(muse, repo_dir, "commit", exit_code=2)
    assert "aborting: the message is empty" in result.stderr
    assert "hint:" in result.stderr


def test_a_failing_editor_records_nothing_and_keeps_the_text(
        muse: MuseRunner, repo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write(repo_dir, "keys.mid", "x")
    commit(muse, repo_dir, "keys")
    head = repo(repo_dir).head()
    write(repo_dir, "keys.mid", "y")
    monkeypatch.setenv("MUSE_EDITOR", str(_editor(tmp_path, "half a message\n", status=3)))
    result = muse("commit", cwd=repo_dir)
    assert result.exit_code == 2
    assert "exited with status 3; nothing was recorded" in result.stderr
    assert repo(repo_dir).head() == head
    assert (repo_dir / ".muse" / "COMMIT_EDITMSG").read_text() == "half a message\n"


def test_off_a_terminal_no_editor_is_opened(
        muse: MuseRunner, repo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A CI job with EDITOR set must get an error, never an editor waiting for keys."""
    write(repo_dir, "keys.mid", "x")
    monkeypatch.delenv("MUSE_EDITOR", raising=False)
    monkeypatch.setenv("EDITOR", str(_editor(tmp_path, "from the editor\n")))
    monkeypatch.setenv("VISUAL", str(_editor(tmp_path, "from the editor\n")))
    result = changes_nothing(muse, repo_dir, "commit", exit_code=2)
    assert "a commit needs a message" in result.stderr
    assert not (tmp_path / "seen.txt").exists()


@pytest.mark.parametrize("text, message", [
    ("subject\n", "subject"),
    ("\n\n  \nsubject  \n\n\n\nbody\n# note\n\n", "subject\n\nbody"),
    ("# only notes\n#\n", ""),
    ("a\n#not a comment? it is, as in git\nb\n", "a\nb"),
])
def test_cleanup_is_gits_strip(text: str, message: str) -> None:
    assert cleaned(text) == message


def test_an_annotated_tag_without_m_is_written_in_the_editor(
        muse: MuseRunner, repo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write(repo_dir, "mix.wav", "final")
    commit(muse, repo_dir, "final mix")
    monkeypatch.setenv("MUSE_EDITOR", str(_editor(tmp_path, "Release 1\n# note\n")))
    result = muse("tag", "-a", "v1", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    found = repo(repo_dir)
    tag_id = found.refs.read("refs/tags/v1")
    assert tag_id is not None and found.store.read_tag(tag_id).message == "Release 1\n"
    assert "# Write a message for tag:\n#   v1\n" in (tmp_path / "seen.txt").read_text()
    (repo_dir / ".muse" / "TAG_EDITMSG").unlink()  # kept after a tag, as git keeps it
    monkeypatch.setenv("MUSE_EDITOR", str(_editor(tmp_path, None)))  # left empty
    refused = changes_nothing(muse, repo_dir, "tag", "-a", "v2", exit_code=2)
    assert "the message is empty" in refused.stderr
