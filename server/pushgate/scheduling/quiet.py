"""Quiet hours, read in a subscriber's local time: when a due time must wait, and the same
answer per time zone at each claim without asking zoneinfo at each claim.

A run claims due deliveries 500 at a time and holds those whose subscriber is in quiet hours
(a retry or a deferral may come due inside them). Whether a zone is quiet changes only twice a
day, so QuietSpans keeps each zone's answer with the span it holds for: until the wall clock
next reads the end of the quiet hours (or their start). A span is kept only when the zone's UTC
offset is the same at both of its ends, so no DST change lies inside it (tzdata changes a zone's
offset at most once a day); across a change the answer is computed afresh at each claim until
the change has passed. Its answers are always those of quiet_until, folds and gaps included.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from pushgate.scheduling.local_time import minute_of_day, next_occurrence
from pushgate.store.models import QuietHours


def quiet_until(quiet: QuietHours, tz: zoneinfo.ZoneInfo, due: float) -> float:
    """`due`, or the end of the quiet hours it falls in (read in `tz`)."""
    local = datetime.fromtimestamp(due, tz)
    if not quiet.contains(local.hour * 60 + local.minute):
        return due
    return next_occurrence(minute_of_day(quiet.end), tz, due)


class QuietSpans:
    """`until(name, tz, now)`: quiet_until(quiet, tz, now), remembered per zone name."""

    def __init__(self, quiet: QuietHours) -> None:
        self._quiet = quiet
        self._start, self._end = minute_of_day(quiet.start), minute_of_day(quiet.end)
        # zone name -> (since, to, answer): for since <= now < to, `answer` (None: now)
        self._spans: dict[str | None, tuple[float, float, float | None]] = {}

    def until(self, name: str | None, tz: zoneinfo.ZoneInfo, now: float) -> float:
        span = self._spans.get(name)
        if span is not None and span[0] <= now < span[1]:
            return now if span[2] is None else span[2]
        end = quiet_until(self._quiet, tz, now)
        local = datetime.fromtimestamp(now, tz)
        # The answer holds until the wall clock next reads the end (or the start) of the
        # quiet hours; with one UTC offset all the way, the wall clock runs straight there.
        quiet = end > now
        to = now + _seconds_until(local, self._end if quiet else self._start)
        if datetime.fromtimestamp(to, tz).utcoffset() == local.utcoffset():
            self._spans[name] = (now, to, end if quiet else None)
        return end


def _seconds_until(local: datetime, minute: int) -> float:
    """Seconds until the wall clock of `local` next reads `minute` (after midnight), were its
    UTC offset to stay as it is: within a day."""
    of_day = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    return (minute * 60 - of_day) % 86400
