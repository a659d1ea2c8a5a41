"""SQLite: the newest notifications first, and a notification's deliveries per minute."""

from __future__ import annotations

from pushgate.store.models import Notification
from pushgate.store.sqlite.connection import SQLiteConnections
from pushgate.store.sqlite.notifications import _NOTIFICATION_COLUMNS, _notification
from pushgate.store.timeline_rows import MinuteCount, timeline_of

# The minute roll-ups (schema 18), by the delivery_rollups_notification index: one row a
# minute with anything in it, however many deliveries the notification had.
_ROLLED_UP = (
    "SELECT bucket, accepted, delivered FROM delivery_rollups "
    "WHERE notification_key = ? AND span = 'minute' ORDER BY bucket"
)
# A notification settled before the minute roll-ups: its rows, grouped in SQL (both halves by
# their primary keys, which start with notification_key), until the retention prunes them.
_COUNTED = (
    "SELECT minute, SUM(accepted), SUM(delivered) FROM ("
    " SELECT CAST(accepted_at / 60 AS INTEGER) * 60 AS minute, 1 AS accepted, 0 AS delivered"
    " FROM deliveries WHERE notification_key = ? AND accepted_at IS NOT NULL"
    " UNION ALL"
    " SELECT CAST(at / 60 AS INTEGER) * 60, 0, 1"
    " FROM events WHERE notification_key = ? AND kind = 'delivered'"
    ") GROUP BY minute ORDER BY minute"
)


class TimelineVerbs(SQLiteConnections):
    async def recent_notifications(
        self, site_id: str, *, limit: int, before: int | None
    ) -> tuple[list[Notification], int | None]:
        rows = await self._all(
            f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications WHERE site_id = ? AND key < ? "
            "ORDER BY key DESC LIMIT ?",
            (site_id, before if before is not None else 2**63 - 1, limit + 1),
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return [_notification(r) for r in rows], (rows[-1]["key"] if more else None)

    async def delivery_timeline(self, notification_key: int) -> list[MinuteCount]:
        rows = await self._all(_ROLLED_UP, (notification_key,))
        if not rows:
            rows = await self._all(_COUNTED, (notification_key, notification_key))
        return timeline_of(tuple(r) for r in rows)
