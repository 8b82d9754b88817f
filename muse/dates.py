"""Points in time as people type them: `now`, `yesterday`, `2.weeks.ago`, `2026-11-01`."""

from __future__ import annotations

import datetime as dt
import re
import time

from .errors import UsageError

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400,
          "month": 30 * 86400, "year": 365 * 86400}
# git's words for small numbers (`two.weeks.ago`); `last week` is one week ago.
_NUMBERS = {"last": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
            "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_RELATIVE = re.compile(r"(\d{1,9}|" + "|".join(_NUMBERS) + r")[. ]+"
                       r"(second|minute|hour|day|week|month|year)s?([. ]+ago)?", re.ASCII)
HINT = "use now, yesterday, never, 2.weeks.ago, last month, or a date like 2026-11-01"


def point_in_time(text: str, *, now: float | None = None, what: str = "date") -> float | None:
    """Seconds since the epoch; None for `never`. UsageError naming `what` otherwise.

    Accepts `now`, `never`, `yesterday`, `midnight`, `noon`, `N.UNIT[s][.ago]`
    (`2.weeks`, `3 days ago`, `two.weeks.ago`, `last month`; units from seconds to
    years: a relative time is always in the past) and an ISO date or date-time
    (`2026-11-01`, `2026-11-01T09:30`, local time unless a zone is given).
    """
    clock = time.time() if now is None else now
    spec = text.strip().lower()
    if spec == "now":
        return clock
    if spec == "never":
        return None
    if spec == "yesterday":  # as git: this time of day, a day ago
        return clock - _UNITS["day"]
    if spec in ("midnight", "noon"):  # the last one passed, as git reads them
        return _last_passed(clock, 0 if spec == "midnight" else 12)
    match = _RELATIVE.fullmatch(spec)
    if match is not None:
        count = _NUMBERS.get(match.group(1)) or int(match.group(1))
        return clock - count * _UNITS[match.group(2)]
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"cannot read the {what} {text!r}", hint=HINT) from None
    if when.tzinfo is None:
        when = when.astimezone()  # a date without a zone is local time, as people write it
    return when.timestamp()


def _last_passed(clock: float, hour: int) -> float:
    """Today at `hour`:00 local time, or yesterday's when that is still to come."""
    today = dt.datetime.fromtimestamp(clock).replace(hour=hour, minute=0, second=0,
                                                     microsecond=0)
    if today.timestamp() > clock:
        today -= dt.timedelta(days=1)
    return today.timestamp()
