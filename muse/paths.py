"""Repository-relative paths: the one rule for which names a snapshot may hold."""

from __future__ import annotations

import re

from .errors import UnsafePathError

REPO_DIR = ".muse"
WORK_FILE_PREFIX = ".muse-tmp-"  # reserved for Muse's own work files (see workfiles.py)
MAX_NAME_BYTES = 255  # the longest file name ext4, APFS, NTFS and most others allow
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_HINT = "rename the file, or list it in .museignore"
_SUSPECT_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")


def validate_path(path: str) -> str:
    """Return `path` if it is a normalised, safe snapshot path; raise UnsafePathError otherwise.

    Normalised means relative, `/`-separated, no empty, `.` or `..` components.
    Safe means no NUL or other control characters, no backslash (a separator
    elsewhere), no `.muse` component and no component starting `.muse-tmp-`
    (Muse's work files) in any letter case, no component over 255 bytes (no
    common filesystem could write it), and valid UTF-8.
    """
    if _plainly_safe(path):
        return path
    return _validate_slowly(path)


def _plainly_safe(path: str) -> bool:
    """The fast check that clears almost every real path (status validates thousands)."""
    if not isinstance(path, str) or not path or path[0] == "/" or _SUSPECT_CHARS.search(path):
        return False
    if not path.isascii():
        return False
    parts = path.split("/")
    if "" in parts or "." in parts or ".." in parts:
        return False
    # A short path cannot hold a long component; `.muse` also catches `.muse-tmp-`.
    return len(path) <= MAX_NAME_BYTES and REPO_DIR not in path.lower()


def _validate_slowly(path: str) -> str:
    """Find what is wrong with `path` and say so precisely."""
    if not isinstance(path, str) or path == "":
        raise UnsafePathError("empty path", hint=_HINT)
    if path.startswith("/"):
        raise UnsafePathError(f"absolute path not allowed: {path!r}", hint=_HINT)
    if _CONTROL.search(path):  # a regex, not a per-character loop: called per bundle entry
        raise UnsafePathError(f"control character in path: {path!r}", hint=_HINT)
    if "\\" in path:
        raise UnsafePathError(f"backslash in path: {path!r}", hint=_HINT)
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafePathError(f"path is not valid UTF-8: {path!r}", hint=_HINT) from None
    for part in path.split("/"):
        if part == "":
            raise UnsafePathError(f"empty component in path: {path!r}", hint=_HINT)
        if part in (".", ".."):
            raise UnsafePathError(f"'{part}' component in path: {path!r}", hint=_HINT)
        if part.lower() == REPO_DIR:
            raise UnsafePathError(f"'{REPO_DIR}' component in path: {path!r}", hint=_HINT)
        if part[:len(WORK_FILE_PREFIX)].lower() == WORK_FILE_PREFIX:
            raise UnsafePathError(f"'{WORK_FILE_PREFIX}' names are Muse's work files: {path!r}",
                                  hint=_HINT)
        if len(part.encode("utf-8")) > MAX_NAME_BYTES:
            raise UnsafePathError(f"file name over {MAX_NAME_BYTES} bytes in path: "
                                  f"{path[:60]!r}…", hint=_HINT)
    return path


def is_safe_path(path: str) -> bool:
    """True when validate_path would accept `path`."""
    try:
        validate_path(path)
    except UnsafePathError:
        return False
    return True
