"""Untrusted text made safe for a terminal: every unprintable character shown as an escape.

Names, messages and paths come from commits, bundles and remotes that anyone
may have written. Printed raw, a newline or a terminal escape in an author's
name can draw a fake "Signature: good" line. Every command prints such text
through `printable`; decoding already refuses these characters in commits
(UNSAFE_TEXT_CHARS is the one list), so this is the second guard, for paths,
ref names and anything older or read from elsewhere. A leaf module: the object
model takes the list from here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .units import counted

if TYPE_CHECKING:
    import datetime as dt

# C0 and C1 controls and DEL (terminal escapes, line breaks), the Unicode line and
# paragraph separators, and the bidi embeddings, overrides and isolates that
# reorder what a terminal shows: a regex character class.
UNSAFE_TEXT_CHARS = "\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"

# Lone surrogates: what Python makes of bytes that are not UTF-8 (a file name, a
# command-line argument). They cannot be printed, nor stored in any UTF-8 file.
NOT_UTF8_CHARS = "\ud800-\udfff"

# Tabs are harmless; lone surrogates (undecodable file names) cannot be printed.
_UNPRINTABLE = re.compile(f"(?!\\t)[{UNSAFE_TEXT_CHARS}]|[{NOT_UTF8_CHARS}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # byte 0x80-0xff that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` on one line: control characters (but tab), line breaks and bidi controls
    escaped as `\\x1b`, `\\u202e`…; anything else unchanged."""
    return _UNPRINTABLE.sub(_escape, text)


def printable_lines(text: str) -> list[str]:
    """The lines of a multi-line text (a commit message), each made printable.

    Only a newline ends a line: the other characters str.splitlines honours
    (form feed, U+2028…) are shown escaped instead.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [printable(line) for line in lines]


def text_width(text: str) -> int:
    """How many terminal columns `text` takes: wide (CJK) characters two, combining none."""
    import unicodedata

    return sum(0 if unicodedata.combining(ch) else
               2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def pad(text: str, columns: int) -> str:
    """`text` followed by spaces up to `columns` terminal columns (str.ljust counts code points)."""
    return text + " " * max(0, columns - text_width(text))


def local_time(timestamp: int, tz_minutes: int) -> dt.datetime:
    """A commit's or tag's time in the zone it was made in."""
    import datetime as dt  # here: most commands print no date, and start-up counts

    return dt.datetime.fromtimestamp(timestamp, dt.timezone(dt.timedelta(minutes=tz_minutes)))


def format_time(timestamp: int, tz_minutes: int) -> str:
    """`2026-12-03 14:29:07 +0000`, as log, show, tag -v and blame print a date."""
    when = local_time(timestamp, tz_minutes)
    sign = "+" if tz_minutes >= 0 else "-"
    hours, minutes = divmod(abs(tz_minutes), 60)
    # The year by hand: strftime's %Y does not pad years below 1000 on every platform.
    return f"{when.year:04d}-{when:%m-%d %H:%M:%S} {sign}{hours:02d}{minutes:02d}"


def relative_time(timestamp: int, now: int) -> str:
    """`3 days ago`, `5 weeks ago`, `1 year, 2 months ago`: git's `%ar`, step for step
    (each unit rounded to the nearest, and used while it reads better than the next)."""
    if timestamp > now:
        return "in the future"
    seconds = now - timestamp
    if seconds < 90:
        return _ago(seconds, "second")
    minutes = (seconds + 30) // 60
    if minutes < 90:
        return _ago(minutes, "minute")
    hours = (minutes + 30) // 60
    if hours < 36:
        return _ago(hours, "hour")
    days = (hours + 12) // 24
    if days < 14:
        return _ago(days, "day")
    if days < 70:
        return _ago((days + 3) // 7, "week")
    if days < 365:
        return _ago((days + 15) // 30, "month")
    if days < 1825:
        total_months = (days * 12 * 2 + 365) // (365 * 2)
        years, months = divmod(total_months, 12)
        if months:
            return f"{counted(years, 'year')}, {_ago(months, 'month')}"
        return _ago(years, "year")
    return _ago((days + 183) // 365, "year")


def _ago(n: int, unit: str) -> str:
    return f"{counted(n, unit)} ago"
