"""`muse help [COMMAND…]` shows what `muse COMMAND --help` shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.testkit import changes_nothing


@pytest.mark.parametrize("words", [(), ("log",), ("clean",), ("hub", "token"),
                                   ("reflog", "expire")])
def test_help_is_the_commands_own(muse, tmp_path: Path, words: tuple[str, ...]) -> None:
    shown = muse("help", *words, cwd=tmp_path)
    own = muse(*words, "--help", cwd=tmp_path)
    assert shown.exit_code == 0 and own.exit_code == 0, shown.output + own.output
    assert shown.stdout == own.stdout.replace("Usage: cli", "Usage: muse")
    assert shown.stdout.startswith("Usage: muse " + " ".join(words))


@pytest.mark.parametrize("words, typed", [(("nosuch",), "muse nosuch"),
                                          (("log", "extra"), "muse log extra")])
def test_an_unknown_command(muse, tmp_path: Path, words: tuple[str, ...], typed: str) -> None:
    result = changes_nothing(muse, tmp_path, "help", *words, exit_code=2)
    assert f"no such command: '{typed}'" in result.stderr
    assert "hint: see `muse help`" in result.stderr
