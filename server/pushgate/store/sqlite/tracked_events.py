"""SQLite verbs for tracked events (what triggers read)."""

from __future__ import annotations

import json

from pushgate.store.automation_models import NewTrackedEvent, TrackedEvent
from pushgate.store.sqlite.connection import SQLiteConnections
from pushgate.store.tracked_event_rows import SELECT, tracked_event_from


class TrackedEventVerbs(SQLiteConnections):
    async def record_tracked_event(
        self, site_id: str, new: NewTrackedEvent, now: float
    ) -> tuple[TrackedEvent, bool] | None:
        """Store the event once per id: (the event, whether it is new). None when its
        subscription (by id or endpoint) is not the site's."""
        async with self._transaction() as db:
            subscription_key = None
            if new.subscription_id is not None or new.endpoint is not None:
                column, value = (
                    ("id", new.subscription_id)
                    if new.subscription_id is not None
                    else ("endpoint", new.endpoint)
                )
                async with db.execute(
                    f"SELECT key FROM subscriptions WHERE site_id = ? AND {column} = ?",
                    (site_id, value),
                ) as cur:
                    row = await cur.fetchone()
                if row is None:
                    return None
                subscription_key = row[0]
            cur = await db.execute(
                "INSERT OR IGNORE INTO tracked_events (site_id, id, name, subscription_key, "
                "external_id, props, occurred_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    site_id, new.id, new.name, subscription_key, new.external_id,
                    json.dumps(new.props), new.occurred_at, now,
                ),
            )  # fmt: skip
            created = cur.rowcount > 0
            async with db.execute(
                f"{SELECT} WHERE e.site_id = ? AND e.id = ?", (site_id, new.id)
            ) as cur:
                found = await cur.fetchone()
        assert found is not None
        return tracked_event_from(found), created
