"""What the dashboard's notification pages read beyond the API's listing: the newest
notifications first, and one notification's deliveries per minute (issue #12 part 4)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from pushgate.store.models import Notification

MINUTE_SECONDS = 60


@dataclass(frozen=True)
class MinuteCount:
    """Deliveries in the minute starting at `minute` (epoch seconds, UTC): accepted by the push
    service (deliveries.accepted_at) and delivered as browsers reported (events.at)."""

    minute: int
    accepted: int
    delivered: int


def timeline_of(rows: Iterable[tuple[int, int, int]]) -> list[MinuteCount]:
    """The minutes with an accepted or delivered in them, from (minute, accepted, delivered)
    rows in order: a minute roll-up with only clicks or failures is no point of the chart."""
    return [MinuteCount(int(m), int(a), int(d)) for m, a, d in rows if a or d]


class TimelineStore(Protocol):
    async def recent_notifications(
        self, site_id: str, *, limit: int, before: int | None
    ) -> tuple[list[Notification], int | None]:
        """A page of the site's notifications, newest first, each older than the key `before`
        (None: from the newest); and the key to pass for the next page (None: no more)."""
        ...

    async def delivery_timeline(self, notification_key: int) -> list[MinuteCount]:
        """Per minute with anything in it, oldest first: read from the minute roll-ups (kept
        for ever), or, for a notification that has none (sent before schema 18), counted from
        its per-delivery rows while the retention keeps them."""
        ...
