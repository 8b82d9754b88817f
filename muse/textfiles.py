"""Reading Muse's own text files: bytes that are not UTF-8 get one error naming file and line."""

from __future__ import annotations

from pathlib import Path

from .errors import MuseError


def decode_utf8(data: bytes, path: Path, error: type[MuseError], hint: str | None) -> str:
    """`data` (read from `path`) as text; `error` naming the file and line if it is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(f"{path} is not valid UTF-8 (line {line})", hint=hint) from None


def read_utf8(path: Path, error: type[MuseError], hint: str | None = None) -> str:
    """Read a text file Muse keeps (config, HEAD, refs, reflogs, merge state) strictly as UTF-8."""
    return decode_utf8(path.read_bytes(), path, error, hint)
