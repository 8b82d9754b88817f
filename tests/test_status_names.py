"""`status` on odd untracked names, unreadable folders and unreadable config files.

As git does, status warns once per name it cannot store (escaped, on stderr;
in `--json` as `warnings`) and goes on; a commit still refuses such a name. A
config file that cannot be read is a configuration error naming it (exit 7),
never mistaken for an empty one ("no user.name").
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.branching_support import commit, write
from tests.testkit import MuseRunner, changes_nothing, tree_state

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_permissions = pytest.mark.skipif(AS_ROOT, reason="root reads any file or folder")


def _odd_names(root: Path) -> None:
    """Three names no snapshot can hold: a backslash, a newline, bytes that are not UTF-8."""
    write(root, "a\\b.wav", "backslash")
    write(root, "take\nnine.wav", "newline")
    with open(os.path.join(os.fsencode(root), b"bad\xffname.wav"), "wb") as handle:
        handle.write(b"not utf-8")


def test_status_warns_once_per_odd_name_and_goes_on(muse: MuseRunner, repo_dir: Path) -> None:
    write(repo_dir, "song.mid", "verse")
    _odd_names(repo_dir)
    before = tree_state(repo_dir)
    result = muse("status", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert "added:    song.mid" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 3  # one line each: the newline in a name is shown escaped
    assert any("a\\\\b.wav" in w and "backslash" in w for w in warnings)
    assert any("take\\nnine.wav" in w for w in warnings)
    assert any("bad\\xffname.wav" in w and "UTF-8" in w for w in warnings)
    assert result.stderr.count("hint: ") == 1
    assert "\x1b" not in result.stderr
    assert tree_state(repo_dir) == before


def test_status_json_carries_the_warnings(muse: MuseRunner, repo_dir: Path) -> None:
    write(repo_dir, "song.mid", "verse")
    _odd_names(repo_dir)
    result = muse("status", "--json", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # one valid document
    assert [c["path"] for c in data["changes"]] == ["song.mid"]
    paths = [w["path"] for w in data["warnings"]]
    assert paths == sorted(paths) and len(paths) == 3
    assert "take\\x0anine.wav" in paths and "bad\\xffname.wav" in paths
    assert all(w["message"] for w in data["warnings"])


def test_status_short_still_lists_changes_beside_the_warnings(muse, repo_dir: Path) -> None:
    write(repo_dir, "song.mid", "verse")
    _odd_names(repo_dir)
    result = muse("status", "--short", cwd=repo_dir)
    assert result.exit_code == 0 and result.stdout == "A song.mid\n"


def test_a_commit_still_refuses_an_odd_name_and_changes_nothing(muse, repo_dir: Path) -> None:
    write(repo_dir, "song.mid", "verse")
    _odd_names(repo_dir)
    result = changes_nothing(muse, repo_dir, "commit", "-m", "x", exit_code=2)
    assert "hint: rename the file, or list it in .museignore" in result.stderr


def test_a_clean_tree_has_no_warnings(muse: MuseRunner, repo_dir: Path) -> None:
    write(repo_dir, "song.mid", "verse")
    commit(muse, repo_dir, "first")
    data = json.loads(muse("status", "--json", cwd=repo_dir).stdout)
    assert data["warnings"] == [] and data["changes"] == []


def test_an_odd_folder_name_is_one_warning_for_the_whole_folder(muse, repo_dir: Path) -> None:
    folder = os.path.join(os.fsencode(repo_dir), b"stems\xfe")
    os.mkdir(folder)
    for i in range(3):
        with open(os.path.join(folder, b"take%d.wav" % i), "wb") as handle:
            handle.write(b"x")
    write(repo_dir, "song.mid", "verse")
    data = json.loads(muse("status", "--json", cwd=repo_dir).stdout)
    assert [w["path"] for w in data["warnings"]] == ["stems\\xfe"]
    assert [c["path"] for c in data["changes"]] == ["song.mid"]


def _unlistable(monkeypatch: pytest.MonkeyPatch, root: Path, rel: str) -> None:
    """Fault injection for a folder the system refuses to list (root can list any folder)."""
    real = os.scandir
    refused = os.path.join(root, rel)

    def scandir(path: object = ".") -> object:
        if os.fspath(path) == refused:  # type: ignore[arg-type]
            raise PermissionError(13, "Permission denied", refused)
        return real(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)


def test_status_warns_about_a_folder_it_cannot_list_and_goes_on(muse, repo_dir: Path,
                                                                monkeypatch) -> None:
    write(repo_dir, "song.mid", "verse")
    write(repo_dir, "private/take.wav", "x")
    _unlistable(monkeypatch, repo_dir, "private")
    result = muse("status", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert "added:    song.mid" in result.stdout
    assert "warning: skipped: cannot read folder private/: Permission denied" in result.stderr
    data = json.loads(muse("status", "--json", cwd=repo_dir).stdout)
    assert [w["path"] for w in data["warnings"]] == ["private/"]


@needs_permissions
def test_status_on_a_really_unreadable_folder(muse: MuseRunner, repo_dir: Path) -> None:
    write(repo_dir, "song.mid", "verse")
    write(repo_dir, "private/take.wav", "x")
    os.chmod(repo_dir / "private", 0)
    try:
        result = muse("status", cwd=repo_dir)
    finally:
        os.chmod(repo_dir / "private", 0o755)
    assert result.exit_code == 0, result.output
    assert "cannot read folder private/" in result.stderr


def test_a_config_that_cannot_be_read_is_named_not_taken_for_empty(muse, muse_home: Path,
                                                                   repo_dir: Path) -> None:
    write(repo_dir, "song.mid", "verse")
    user = muse_home / "config"
    user.unlink()
    user.mkdir()  # a folder where the file should be: reading it fails as root too
    result = changes_nothing(muse, repo_dir, "commit", "-m", "x", exit_code=7,
                             root=repo_dir.parent)
    assert f"cannot read config file {user}" in result.stderr
    assert "user.name" not in result.stderr
    assert result.stderr.count("\n") == 2  # one error line, one hint


@needs_permissions
def test_a_config_without_read_permission_is_a_config_error(muse, muse_home: Path,
                                                            repo_dir: Path) -> None:
    user = muse_home / "config"
    os.chmod(user, 0)
    try:
        result = changes_nothing(muse, repo_dir, "commit", "-m", "x", "--allow-empty",
                                 exit_code=7, root=repo_dir)
    finally:
        os.chmod(user, 0o644)
    assert f"cannot read config file {user}: Permission denied" in result.stderr


def test_a_repository_config_that_cannot_be_read_fails_status_with_its_path(muse,
                                                                           repo_dir) -> None:
    config = repo_dir / ".muse" / "config"
    config.unlink()
    config.mkdir()
    result = muse("status", cwd=repo_dir)
    assert result.exit_code == 7 and f"cannot read config file {config}" in result.stderr
