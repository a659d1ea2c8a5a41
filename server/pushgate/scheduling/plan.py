"""A notification's due time and end of life per time zone, for a whole batch at once.

`send_at` delays everything; `deliver_at_local` makes each zone's due time the next occurrence
of that wall-clock time at or after the start; quiet hours (the site's, in local time) move a
due time to the end of the quiet hours. The TTL counts from the start, or from each zone's local
time for `deliver_at_local`, so a delivery delayed by quiet hours never outlives its
notification. Zones are computed once per planner and cached: a million subscribers in 400
zones cost 400 computations, not a million.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass

from pushgate.scheduling.local_time import minute_of_day, next_occurrence, zone
from pushgate.scheduling.quiet import QuietSpans, quiet_until
from pushgate.store.models import Notification, QuietHours, Site

HIGH_URGENCY = "high"


@dataclass(frozen=True)
class Due:
    at: float  # when the delivery may first be handed to a push service
    expires_at: float  # when it no longer may


def quiet_hours_for(notification: Notification, site: Site) -> QuietHours | None:
    """The site's quiet hours, unless this notification may pass through them."""
    quiet = site.quiet_hours
    if quiet is None or notification.ignore_quiet_hours:
        return None
    if notification.urgency == HIGH_URGENCY and quiet.allow_high_urgency:
        return None
    return quiet


def needs_zones(notification: Notification, site: Site) -> bool:
    """Whether due times depend on each subscriber's time zone."""
    return bool(notification.deliver_at_local) or quiet_hours_for(notification, site) is not None


class DuePlanner:
    """Due times of one notification's deliveries, per subscriber time zone."""

    def __init__(self, notification: Notification, site: Site, now: float) -> None:
        self._start = max(notification.send_at or notification.created_at, now)
        self._local = notification.deliver_at_local
        self._ttl = notification.ttl
        self._quiet = quiet_hours_for(notification, site)
        self._spans = None if self._quiet is None else QuietSpans(self._quiet)
        self._default = site.default_timezone
        self._cache: dict[str | None, Due] = {}

    def due(self, timezone: str | None) -> Due:
        known = self._cache.get(timezone)
        if known is None:
            known = self._cache[timezone] = self._plan(self._tz(timezone))
        return known

    def due_by_zone(self, timezones: Iterable[str | None]) -> dict[str | None, Due]:
        return {name: self.due(name) for name in set(timezones)}

    @property
    def has_quiet_hours(self) -> bool:
        return self._quiet is not None

    def quiet_until_by_zone(
        self, timezones: Iterable[str | None], now: float
    ) -> dict[str | None, float]:
        """Per zone, `now` or the end of the quiet hours `now` falls in: a retry or a throttled
        delivery that became due inside them waits too, not only the first attempt."""
        spans = self._spans
        if spans is None:
            return dict.fromkeys(timezones, now)
        return {name: spans.until(name, self._tz(name), now) for name in set(timezones)}

    def _tz(self, name: str | None) -> zoneinfo.ZoneInfo:
        # Zones are IANA names checked at subscribe time; one dropped from tzdata since then
        # falls back to the site's default rather than stopping the campaign.
        for candidate in (name, self._default, "UTC"):
            if candidate:
                try:
                    return zone(candidate)
                except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                    continue
        return zone("UTC")

    def _plan(self, tz: zoneinfo.ZoneInfo) -> Due:
        at = self._start
        if self._local:
            at = next_occurrence(minute_of_day(self._local), tz, at)
        expires_at = at + self._ttl
        if self._quiet is not None:
            at = quiet_until(self._quiet, tz, at)
        return Due(at, expires_at)
