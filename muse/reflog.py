"""The reflog: one line appended per ref move, read back newest first; a damaged line is
reported and skipped, never fatal.

    logs/REF   <old-id or 64 zeros> <new-id or 64 zeros> <unix-ts> <identity>\\t<message>

`logs/HEAD` records every move of what HEAD resolves to (commits, switches, resets).
Lines written before this format ("OLD NEW TS MESSAGE" with "-" for none) are still read.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .fsutil import atomic_writer
from .objects import is_object_id

ZERO_ID = "0" * 64
# A line is one short record: the message is a subject line, cut so a reader needs one
# bounded buffer per line however the file was written.
MAX_MESSAGE_CHARS = 1000
MAX_LINE_BYTES = 8192
_BLOCK = 64 * 1024


@dataclass(frozen=True)
class ReflogEntry:
    """One recorded move: None for "did not exist" (old) or "deleted" (new)."""

    old: str | None
    new: str | None
    timestamp: int
    identity: str
    message: str


@dataclass(frozen=True)
class DamagedLine:
    """A line that does not parse: shown to the user, skipped by every reader."""

    text: str


# HEAD's record of a switch; `@{-N}` reads the branch it left back out of it.
_SWITCH = re.compile(r"switch: moving from (?P<old>\S+) to (?P<new>\S+)")


def switch_message(old: str, new: str) -> str:
    """HEAD's reflog message for a switch from `old` (a branch, or a detached commit's
    abbreviation) to `new`."""
    return f"switch: moving from {old} to {new}"


def switched_from(message: str) -> str | None:
    """What a switch recorded by `switch_message` left; None for any other move."""
    found = _SWITCH.fullmatch(message)
    return None if found is None else found.group("old")


def log_path(muse_dir: Path, ref: str) -> Path:
    return muse_dir / "logs" / ref


def _one_line(text: str) -> str:
    """Tabs and line breaks would split the record: each becomes a space."""
    return " ".join(text.replace("\t", " ").splitlines()).strip()


def format_line(old: str | None, new: str | None, identity: str, message: str,
                when: int | None = None) -> bytes:
    stamp = int(time.time()) if when is None else when
    who = _one_line(identity) or "unknown"
    what = _one_line(message)[:MAX_MESSAGE_CHARS]
    return f"{old or ZERO_ID} {new or ZERO_ID} {stamp} {who}\t{what}\n".encode()


def append(muse_dir: Path, ref: str, line: bytes) -> None:
    """Append one line (one write, O_APPEND: concurrent appenders never interleave)."""
    path = log_path(muse_dir, ref)
    _make_room(muse_dir / "logs", path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _make_room(logs: Path, path: Path) -> None:
    """Clear what a deleted ref's log leaves in the way of this one (logs are kept after
    a delete, and `a` and `a/b` cannot both be files): a live ref never clashes, so only
    logs of refs that are gone are removed."""
    parent = path.parent
    while parent != logs and parent != parent.parent:
        if parent.is_file():
            parent.unlink()
            break
        parent = parent.parent
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        import shutil  # rarely needed, and with bz2 and lzma a millisecond of every start-up

        shutil.rmtree(path)


def move_log(muse_dir: Path, old_ref: str, new_ref: str) -> None:
    """Give `old_ref`'s log to `new_ref` (a rename), replacing a gone ref's log there."""
    source = log_path(muse_dir, old_ref)
    if not source.is_file():
        return
    target = log_path(muse_dir, new_ref)
    _make_room(muse_dir / "logs", target)
    os.replace(source, target)
    _prune_empty(source.parent, muse_dir / "logs")


def _prune_empty(directory: Path, stop: Path) -> None:
    while directory != stop and stop in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


def parse_line(raw: bytes) -> ReflogEntry | DamagedLine:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return DamagedLine(raw[:120].decode("utf-8", "replace"))
    head, tab, message = text.partition("\t")
    if tab:
        fields = head.split(" ", 3)
        if len(fields) == 4 and all(_is_id(v, legacy=False) for v in fields[:2]):
            return _entry(fields[0], fields[1], fields[2], fields[3], message, text)
        return DamagedLine(text[:120])
    fields = text.split(" ", 3)  # the format before identities were recorded
    if len(fields) >= 3 and all(_is_id(v, legacy=True) for v in fields[:2]):
        return _entry(fields[0], fields[1], fields[2], "", ([*fields, ""])[3], text)
    return DamagedLine(text[:120])


def _is_id(value: str, *, legacy: bool) -> bool:
    return is_object_id(value) or (legacy and value == "-")


def _entry(old: str, new: str, when: str, who: str, message: str,
           text: str) -> ReflogEntry | DamagedLine:
    if not (when.isascii() and when.isdigit()):
        return DamagedLine(text[:120])
    return ReflogEntry(_none_if_zero(old), _none_if_zero(new), int(when), who, message)


def _none_if_zero(value: str) -> str | None:
    return None if value in (ZERO_ID, "-") else value


def newest_first(muse_dir: Path, ref: str) -> Iterator[ReflogEntry | DamagedLine]:
    """Every line of REF's log, newest first, read backwards in blocks: `@{N}` costs N lines."""
    path = log_path(muse_dir, ref)
    with contextlib.suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
        with open(path, "rb") as handle:
            for raw in _lines_backwards(handle):
                if raw.strip():
                    yield parse_line(raw)
        return


def rewrite(muse_dir: Path, ref: str, keep: Callable[[ReflogEntry], bool], *,
            dry_run: bool = False) -> tuple[int, int]:
    """REF's log without the entries `keep` refuses: (removed, kept). Damaged lines stay
    (what cannot be read is not judged). The caller holds every lock an appender holds."""
    path = log_path(muse_dir, ref)
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return 0, 0
    kept: list[bytes] = []
    removed = 0
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        entry = parse_line(raw)
        if isinstance(entry, ReflogEntry) and not keep(entry):
            removed += 1
        else:
            kept.append(raw + b"\n")
    if removed and not dry_run:
        # Replaced whole, never edited in place: a reader sees the old log or the new.
        with atomic_writer(path) as handle:
            handle.writelines(kept)
    return removed, len(kept)


def has_log(muse_dir: Path, ref: str) -> bool:
    return log_path(muse_dir, ref).is_file()


def _lines_backwards(handle: BinaryIO) -> Iterator[bytes]:
    """The file's lines last to first. A line over MAX_LINE_BYTES comes back as a short
    undecodable stub (so it reads as damaged): memory stays one block plus one line."""
    pos = handle.seek(0, os.SEEK_END)
    tail = b""
    overlong = False
    while pos > 0:
        step = min(_BLOCK, pos)
        pos -= step
        handle.seek(pos)
        pieces = (handle.read(step) + tail).split(b"\n")
        tail = pieces[0]
        for piece in reversed(pieces[1:]):
            yield _stub(piece) if overlong or len(piece) > MAX_LINE_BYTES else piece
            overlong = False
        if len(tail) > MAX_LINE_BYTES:
            tail, overlong = tail[-MAX_LINE_BYTES:], True
    if tail:
        yield _stub(tail) if overlong or len(tail) > MAX_LINE_BYTES else tail


def _stub(piece: bytes) -> bytes:
    return b"\xff" + piece[:120]
