"""Pathspecs: typed paths made repository-relative, refused outside the tree, and matched."""

from __future__ import annotations

from pathlib import Path

import pytest

from muse.errors import UnsafePathError, UsageError
from muse.pathspec import TOP, matcher, matches_any, resolve_spec


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "song" / "stems").mkdir(parents=True)
    return tmp_path / "song"


@pytest.mark.parametrize("cwd, typed, expected", [
    ("", "stems/bass.wav", "stems/bass.wav"),
    ("stems", "bass.wav", "stems/bass.wav"),
    ("stems", "../mix.wav", "mix.wav"),
    ("stems", "..", TOP),
    ("", ".", TOP),
    ("", "./stems/", "stems"),
    ("", "stems/../stems//x", "stems/x"),
])
def test_resolve(root, cwd, typed, expected):
    assert resolve_spec(root, typed, cwd=root / cwd).path == expected


@pytest.mark.parametrize("typed, error, message", [
    ("../other", UsageError, "outside the repository"),
    ("stems/../../x", UsageError, "outside the repository"),
    ("/etc/passwd", UsageError, "outside the repository"),
    ("", UsageError, "empty path"),
    (".muse", UnsafePathError, "inside .muse/"),
    (".MUSE/HEAD", UnsafePathError, "inside .muse/"),
    ("a\nb", UnsafePathError, "control character"),
])
def test_refused(root, typed, error, message):
    with pytest.raises(error, match=message):
        resolve_spec(root, typed, cwd=root)


def test_absolute_inside(root):
    assert resolve_spec(root, str(root / "stems" / "x.wav"), cwd=Path("/")).path == "stems/x.wav"


@pytest.mark.parametrize("specs, path, hit", [
    (["d"], "d", True),
    (["d"], "d/x", True),
    (["d"], "dx/file", False),
    (["d/x"], "d", False),
    (["a", "b/c"], "b/c/d", True),
    (["."], "anything/at/all", True),
    ([], "x", True),
])
def test_matching_agrees(root, specs, path, hit):
    resolved = [resolve_spec(root, s, cwd=root) for s in specs]
    assert matches_any(resolved, path) is hit
    assert matcher(resolved)(path) is hit
