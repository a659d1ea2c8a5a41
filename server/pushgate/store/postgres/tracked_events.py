"""PostgreSQL verbs for tracked events (what triggers read)."""

from __future__ import annotations

import json

from pushgate.store.automation_models import NewTrackedEvent, TrackedEvent
from pushgate.store.postgres.connection import PostgresConnections
from pushgate.store.tracked_event_rows import SELECT, tracked_event_from


class TrackedEventVerbs(PostgresConnections):
    async def record_tracked_event(
        self, site_id: str, new: NewTrackedEvent, now: float
    ) -> tuple[TrackedEvent, bool] | None:
        """Store the event once per id: (the event, whether it is new). None when its
        subscription (by id or endpoint) is not the site's."""
        async with self._transaction() as conn:
            subscription_key = None
            if new.subscription_id is not None or new.endpoint is not None:
                column, value = (
                    ("id", new.subscription_id)
                    if new.subscription_id is not None
                    else ("endpoint", new.endpoint)
                )
                subscription_key = await conn.fetchval(
                    f"SELECT key FROM subscriptions WHERE site_id = $1 AND {column} = $2",
                    site_id,
                    value,
                )
                if subscription_key is None:
                    return None
            status = await conn.execute(
                "INSERT INTO tracked_events (site_id, id, name, subscription_key, external_id, "
                "props, occurred_at, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                "ON CONFLICT (site_id, id) DO NOTHING",
                site_id, new.id, new.name, subscription_key, new.external_id,
                json.dumps(new.props), new.occurred_at, now,
            )  # fmt: skip
            found = await conn.fetchrow(
                f"{SELECT} WHERE e.site_id = $1 AND e.id = $2", site_id, new.id
            )
        assert found is not None
        return tracked_event_from(found), status != "INSERT 0 0"
