"""`log --format`: git's placeholders (`%H`, `%h`, `%s`, `%an`, …) filled in from a commit."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..display import format_time, local_time, printable, printable_lines, relative_time
from ..errors import UsageError
from .base import short


@dataclass(frozen=True)
class Shown:
    """One commit as a format sees it. `signature` and `label` are asked for only when the
    format uses them: verifying a signature and reading every ref cost time."""

    oid: str
    commit: Any
    signature: Callable[[], dict[str, Any]]
    label: Callable[[], str]


def _when(commit: Any) -> dt.datetime:
    return local_time(commit.timestamp, commit.tz_offset_minutes)


def _body(commit: Any) -> str:
    lines = printable_lines(commit.message)
    rest = lines[1:]
    while rest and not rest[0].strip():  # the blank line after the subject
        rest = rest[1:]
    return "\n".join(rest) + ("\n" if rest else "")


_SIGNATURE_LETTERS = {"good": "G", "untrusted": "U", "bad": "B", "unsigned": "N"}

# Each placeholder (longest first where one is a prefix of another) → how it is filled.
FIELDS: dict[str, Callable[[Shown], str]] = {
    "H": lambda s: s.oid,
    "h": lambda s: short(s.oid),
    "T": lambda s: s.commit.snapshot,
    "t": lambda s: short(s.commit.snapshot),
    "P": lambda s: " ".join(s.commit.parents),
    "p": lambda s: " ".join(short(p) for p in s.commit.parents),
    "an": lambda s: printable(s.commit.author_name),
    "ae": lambda s: printable(s.commit.author_email),
    "ad": lambda s: format_time(s.commit.timestamp, s.commit.tz_offset_minutes),
    "ai": lambda s: format_time(s.commit.timestamp, s.commit.tz_offset_minutes),
    "ar": lambda s: relative_time(s.commit.timestamp, int(time.time())),
    "aI": lambda s: _when(s.commit).isoformat(),
    "at": lambda s: str(s.commit.timestamp),
    "as": lambda s: f"{_when(s.commit).year:04d}-{_when(s.commit):%m-%d}",
    "s": lambda s: printable(s.commit.subject),
    "b": lambda s: _body(s.commit),
    "B": lambda s: "\n".join(printable_lines(s.commit.message)) + "\n",
    "d": lambda s: f" ({label})" if (label := s.label()) else "",
    "D": lambda s: s.label(),
    "G?": lambda s: _SIGNATURE_LETTERS[s.signature()["status"]],
    "GK": lambda s: s.signature()["signer"] or "",
    "n": lambda s: "\n",
    "%": lambda s: "%",
}
_TOKEN = re.compile("%(" + "|".join(re.escape(k) for k in sorted(FIELDS, key=len, reverse=True))
                    + r"|x[0-9a-fA-F]{2})")


Piece = str | Callable[[Shown], str]


def compile_format(text: str) -> list[Piece]:
    """`text` as literal pieces and fields; UsageError naming an unknown placeholder (git
    would print it as it stands, and a script would parse the wrong thing)."""
    pieces: list[Piece] = []
    at = 0
    for found in _TOKEN.finditer(text):
        literal = text[at:found.start()]
        if "%" in literal:
            _unknown(literal)
        pieces.append(literal)
        name = found.group(1)
        pieces.append(chr(int(name[1:], 16)) if name.startswith("x") else FIELDS[name])
        at = found.end()
    if "%" in text[at:]:
        _unknown(text[at:])
    pieces.append(text[at:])
    return [p for p in pieces if p != ""]


def _unknown(literal: str) -> None:
    bad = literal[literal.index("%"):][:3]
    raise UsageError(f"unknown placeholder {bad!r} in --format",
                     hint="see docs/working-tree.md#log---format for the placeholders; "
                     "%% is a percent sign")


def uses(pieces: list[Piece], *names: str) -> bool:
    return any(FIELDS.get(name) in pieces for name in names)


def render(pieces: list[Piece], shown: Shown) -> str:
    return "".join(p if isinstance(p, str) else p(shown) for p in pieces)


def shown_commit(oid: str, commit: Any, signature: Callable[[], dict[str, Any]],
                 names: Any, current: str | None) -> Shown:
    """A commit for `render`: `names` its decorations (`muse.decorate.Names`) or None."""
    return Shown(oid, commit, signature,
                 lambda: printable(names.label(current)) if names is not None else "")


def _merge_line(shown: Shown) -> str:
    """`Merge: P1 P2` for a merge, as git's short and medium layouts have it; else nothing."""
    parents = shown.commit.parents
    return "Merge: " + " ".join(short(p) for p in parents) + "\n" if len(parents) > 1 else ""


# git's named formats: format text, and fields no placeholder spells. `medium` is the
# default layout (None), and so are `full` and `fuller`: Muse records one author and no
# separate committer.
NAMED_FORMATS: dict[str, tuple[Piece, ...] | None] = {
    "oneline": ("%H %s",),  # the whole id, as git's --pretty=oneline (--oneline abbreviates)
    "short": ("commit %H\n", _merge_line, "Author: %an <%ae>\n\n    %s\n"),
    "medium": None,
    "full": None,
    "fuller": None,
    "reference": ("%h (%s, %as)",),
}


def format_pieces(value: str) -> list[Piece] | None:
    """`--format=X`, `--pretty=format:X` or `--pretty=tformat:X`, compiled; a word without
    placeholders is one of git's named formats (None: the default layout)."""
    for prefix in ("format:", "tformat:"):
        if value.startswith(prefix):
            return compile_format(value[len(prefix):])
    if "%" in value:
        return compile_format(value)
    if value not in NAMED_FORMATS:
        raise UsageError(f"invalid --pretty format: {value}",
                         hint=f"name one of {', '.join(NAMED_FORMATS)}, or give placeholders "
                         "(`--format='%h %s'`; `format:TEXT` for text without any)")
    parts = NAMED_FORMATS[value]
    if parts is None:
        return None
    return [piece for part in parts
            for piece in (compile_format(part) if isinstance(part, str) else [part])]
