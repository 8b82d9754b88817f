"""`muse config`: keys and values that read back as what was set, and git's reach outside
a repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.testkit import MuseRunner, changes_nothing, tree_state

BAD_KEYS = ["x.a=b", "x]y.z", "[x].y", "a b.c", "x.1a", "x.a:b", "ü.name", "a.b\nc.d",
            "x.\udcff", "remote.a\x1bb.url"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_a_key_that_would_read_back_as_another_is_refused(muse: MuseRunner, repo_dir: Path,
                                                          key: str) -> None:
    res = changes_nothing(muse, repo_dir, "config", key, "v", exit_code=7)
    assert res.stderr.startswith("error: invalid config key '")
    assert "\n" not in res.stderr.splitlines()[0] and "hint: keys look like" in res.stderr
    assert muse("config", "--list", cwd=repo_dir).exit_code == 0  # the file still parses


@pytest.mark.parametrize("value", ["two\nlines", "bell\x07", "\udcff", "sep\u2028"])
def test_a_value_that_is_not_one_line_of_text_is_refused(muse: MuseRunner, repo_dir: Path,
                                                         value: str) -> None:
    res = changes_nothing(muse, repo_dir, "config", "core.editor", value, exit_code=7)
    assert res.stderr.startswith("error: invalid value for core.editor: '")
    assert "hint: a value is one line of UTF-8 text" in res.stderr


@pytest.mark.parametrize("key, value", [("remote.my-box.url", "/srv/a b.muse"),
                                        ("branch.release-1.0.merge", "refs/heads/release-1.0"),
                                        ("core.editor", "vim\t-n")])
def test_keys_and_values_read_back_as_set(muse: MuseRunner, repo_dir: Path, key: str,
                                          value: str) -> None:
    assert muse("config", key, value, cwd=repo_dir).exit_code == 0
    assert muse("config", key, cwd=repo_dir).stdout == value + "\n"
    assert f"{key}={value}" in muse("config", "--list", cwd=repo_dir).stdout.splitlines()


def test_outside_a_repository_reading_shows_your_own_settings(muse: MuseRunner,
                                                             tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    got = changes_nothing(muse, outside, "config", "user.name", exit_code=0)
    assert got.stdout == "Test Musician\n"
    listed = changes_nothing(muse, outside, "config", "--list", exit_code=0).stdout
    assert "user.email=test@example.org" in listed.splitlines()
    assert changes_nothing(muse, outside, "config", "core.editor", exit_code=2).stderr \
        == "error: core.editor is not set\n"


@pytest.mark.parametrize("args", [("core.editor", "nano"), ("--unset", "user.name")])
def test_outside_a_repository_a_change_needs_global(muse: MuseRunner, tmp_path: Path,
                                                    args: tuple[str, ...]) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    user_file = muse.home / "config"
    before = tree_state(muse.home)
    res = changes_nothing(muse, outside, "config", *args, exit_code=3)
    assert res.stderr.startswith("error: not a Muse repository")
    assert "hint: to change your own setting, add --global" in res.stderr
    assert tree_state(muse.home) == before and user_file.is_file()
