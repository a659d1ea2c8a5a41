"""What the dashboard's notification pages read beyond the API's listing: the newest
notifications first, and one notification's deliveries per minute (issue #12 part 4)."""

from __future__ import annotations

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


class TimelineStore(Protocol):
    async def recent_notifications(
        self, site_id: str, *, limit: int, before: int | None
    ) -> tuple[list[Notification], int | None]:
        """A page of the site's notifications, newest first, each older than the key `before`
        (None: from the newest); and the key to pass for the next page (None: no more)."""
        ...

    async def delivery_timeline(self, notification_key: int) -> list[MinuteCount]:
        """Per minute with anything in it, oldest first."""
        ...
