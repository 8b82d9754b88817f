"""Points in time as people type them: `now`, `never`, `2.weeks.ago`, `3 days`, `2026-11-01`."""

from __future__ import annotations

import datetime as dt
import re
import time

from .errors import UsageError

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400,
          "month": 30 * 86400, "year": 365 * 86400}
_RELATIVE = re.compile(r"(\d{1,9})[. ]+(second|minute|hour|day|week|month|year)s?([. ]+ago)?",
                       re.ASCII)
HINT = "use now, never, 2.weeks.ago, 3.days, or a date like 2026-11-01"


def point_in_time(text: str, *, now: float | None = None, what: str = "date") -> float | None:
    """Seconds since the epoch; None for `never`. UsageError naming `what` otherwise.

    Accepts `now`, `never`, `N.UNIT[s][.ago]` (`2.weeks`, `3 days ago`; units from
    seconds to years: a relative time is always in the past) and an ISO date or
    date-time (`2026-11-01`, `2026-11-01T09:30`, local time unless a zone is given).
    """
    clock = time.time() if now is None else now
    spec = text.strip().lower()
    if spec == "now":
        return clock
    if spec == "never":
        return None
    match = _RELATIVE.fullmatch(spec)
    if match is not None:
        return clock - int(match.group(1)) * _UNITS[match.group(2)]
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"cannot read the {what} {text!r}", hint=HINT) from None
    if when.tzinfo is None:
        when = when.astimezone()  # a date without a zone is local time, as people write it
    return when.timestamp()
