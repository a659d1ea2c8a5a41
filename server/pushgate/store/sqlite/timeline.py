"""SQLite: the newest notifications first, and a notification's deliveries per minute."""

from __future__ import annotations

from pushgate.store.models import Notification
from pushgate.store.sqlite.connection import SQLiteConnections
from pushgate.store.sqlite.notifications import _NOTIFICATION_COLUMNS, _notification
from pushgate.store.timeline_rows import MinuteCount

# Both halves read one notification's rows through their primary keys, which start with
# notification_key; the grouping happens in SQL, so a big send returns one row a minute.
_TIMELINE = (
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
        rows = await self._all(_TIMELINE, (notification_key, notification_key))
        return [MinuteCount(int(r[0]), int(r[1]), int(r[2])) for r in rows]
