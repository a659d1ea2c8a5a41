"""The next moment a wall-clock time ("07:00") occurs in a time zone, with zoneinfo.

Rules (issue #9): a local time that does not exist that day (the spring-forward gap) is used at
the first minute after the gap; an ambiguous one (fall back) at its first occurrence.
"""

from __future__ import annotations

import functools
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

DAYS_TO_SEARCH = 3  # today, tomorrow, and one more in case a zone skips a whole day (Samoa 2011)


def minute_of_day(clock: str) -> int:
    """An "HH:MM" time (already validated) as minutes after midnight."""
    hours, _, minutes = clock.partition(":")
    return int(hours) * 60 + int(minutes)


@functools.lru_cache(maxsize=1024)
def zone(name: str) -> zoneinfo.ZoneInfo:
    """A ZoneInfo by IANA name (names are validated at the edge; ZoneInfo caches the data)."""
    return zoneinfo.ZoneInfo(name)


def local_instant(day: date, minute: int, tz: zoneinfo.ZoneInfo) -> float:
    """The epoch seconds of wall-clock `minute` on `day` in `tz`: the first occurrence when it
    is ambiguous, the end of the gap when it does not exist."""
    wall = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz)  # fold=0: first
    if _exists(wall):
        return wall.timestamp()
    # In a gap, fold=0 reads the wall time with the offset before the change and fold=1 with
    # the one after; the change itself lies between those two instants.
    before, after = wall.replace(fold=1).timestamp(), wall.timestamp()
    low, high = min(before, after), max(before, after)
    offset_after = datetime.fromtimestamp(high, tz).utcoffset()
    while high - low > 1:  # transitions fall on whole seconds
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).utcoffset() == offset_after:
            high = middle
        else:
            low = middle
    return float(high)


def _exists(wall: datetime) -> bool:
    back = wall.astimezone(UTC).astimezone(wall.tzinfo)
    return back.replace(tzinfo=None) == wall.replace(tzinfo=None)


def next_occurrence(minute: int, tz: zoneinfo.ZoneInfo, after: float) -> float:
    """The first instant at or after `after` when the wall clock in `tz` reads `minute`
    (minutes after midnight), so within about a day."""
    today = datetime.fromtimestamp(after, tz).date()
    for days in range(DAYS_TO_SEARCH):
        at = local_instant(today + timedelta(days=days), minute, tz)
        if at >= after:
            return at
    raise AssertionError(f"{minute} min after midnight never occurs in {tz} after {after}")
