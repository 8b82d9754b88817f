"""Points in time as git users type them (`--since`, `gc.pruneExpire`, `reflog expire`)."""

from __future__ import annotations

import datetime as dt

import pytest

from muse.dates import point_in_time
from muse.errors import UsageError

NOW = dt.datetime(2026, 12, 4, 9, 30).timestamp()  # local time, a Friday morning
DAY = 86400


@pytest.mark.parametrize("text, expected", [
    ("now", NOW),
    ("yesterday", NOW - DAY),
    ("2.weeks.ago", NOW - 14 * DAY),
    ("3 days ago", NOW - 3 * DAY),
    ("two.weeks.ago", NOW - 14 * DAY),
    ("last week", NOW - 7 * DAY),
    ("last.month", NOW - 30 * DAY),
    ("midnight", dt.datetime(2026, 12, 4, 0, 0).timestamp()),
    ("noon", dt.datetime(2026, 12, 3, 12, 0).timestamp()),  # today's is still to come
    ("2026-11-01", dt.datetime(2026, 11, 1).timestamp()),
])
def test_words_people_type(text: str, expected: float) -> None:
    assert point_in_time(text, now=NOW) == expected


def test_never_and_nonsense() -> None:
    assert point_in_time("never", now=NOW) is None
    for bad in ("someday", "last", "eleven weeks ago", "yesterday noon"):
        with pytest.raises(UsageError, match="cannot read the date"):
            point_in_time(bad, now=NOW)
