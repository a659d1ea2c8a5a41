"""PostgreSQL: the newest notifications first, and a notification's deliveries per minute."""

from __future__ import annotations

from pushgate.store.models import Notification
from pushgate.store.postgres.connection import PostgresConnections
from pushgate.store.postgres.notifications import _NOTIFICATION_COLUMNS, _notification
from pushgate.store.timeline_rows import MinuteCount, timeline_of

# As SQLite's: the minute roll-ups by the delivery_rollups_notification index, and for a
# notification settled before them its per-delivery rows, grouped in SQL.
_ROLLED_UP = (
    "SELECT bucket, accepted, delivered FROM delivery_rollups "
    "WHERE notification_key = $1 AND span = 'minute' ORDER BY bucket"
)
_COUNTED = (
    "SELECT minute, sum(accepted)::bigint, sum(delivered)::bigint FROM ("
    " SELECT floor(accepted_at / 60)::bigint * 60 AS minute, 1 AS accepted, 0 AS delivered"
    " FROM deliveries WHERE notification_key = $1 AND accepted_at IS NOT NULL"
    " UNION ALL"
    " SELECT floor(at / 60)::bigint * 60, 0, 1"
    " FROM events WHERE notification_key = $1 AND kind = 'delivered'"
    ") t GROUP BY minute ORDER BY minute"
)


class TimelineVerbs(PostgresConnections):
    async def recent_notifications(
        self, site_id: str, *, limit: int, before: int | None
    ) -> tuple[list[Notification], int | None]:
        rows = await self._all(
            f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications WHERE site_id = $1 AND key < $2 "
            "ORDER BY key DESC LIMIT $3",
            site_id,
            before if before is not None else 2**63 - 1,
            limit + 1,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return [_notification(r) for r in rows], (rows[-1]["key"] if more else None)

    async def delivery_timeline(self, notification_key: int) -> list[MinuteCount]:
        rows = await self._all(_ROLLED_UP, notification_key)
        if not rows:
            rows = await self._all(_COUNTED, notification_key)
        return timeline_of((r[0], r[1], r[2]) for r in rows)
