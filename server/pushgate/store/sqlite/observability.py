"""SQLite: counts for the metrics, and a notification's failures grouped by reason."""

from __future__ import annotations

from pushgate.store.counts import FailureCount, StoreCounts
from pushgate.store.sqlite.connection import SQLiteConnections

# Failed and gone deliveries of a notification, by push service, status and reason. A gone
# subscription is deleted: its push service is then read from the reason (quirks.py).
_FAILURES = (
    "SELECT s.push_service, d.last_status, d.reason, count(*) AS n FROM deliveries d "
    "LEFT JOIN subscriptions s ON s.key = d.subscription_key "
    "WHERE d.notification_key = ? AND d.state IN ('failed', 'gone') "
    "GROUP BY s.push_service, d.last_status, d.reason ORDER BY n DESC"
)


class ObservabilityVerbs(SQLiteConnections):
    async def store_counts(self) -> StoreCounts:
        """Subscriptions per site, notifications per status, and deliveries pending."""
        subs = await self._all("SELECT site_id, count(*) FROM subscriptions GROUP BY site_id")
        notes = await self._all("SELECT status, count(*) FROM notifications GROUP BY status")
        pending = await self._one("SELECT count(*) FROM deliveries WHERE state = 'pending'")
        return StoreCounts(
            {row[0]: row[1] for row in subs},
            {row[0]: row[1] for row in notes},
            pending[0] if pending else 0,
        )

    async def delivery_failures(self, notification_key: int) -> list[FailureCount]:
        rows = await self._all(_FAILURES, (notification_key,))
        return [FailureCount(row[0], row[1], row[2], row[3]) for row in rows]
