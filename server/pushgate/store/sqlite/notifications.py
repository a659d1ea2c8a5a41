"""SQLite verbs for notifications, their audiences compiled to SQL, and events."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import aiosqlite

from pushgate.store.base import IdempotencyConflict
from pushgate.store.models import (
    Audience,
    Counts,
    DeliveryRef,
    NewNotification,
    Notification,
)
from pushgate.store.sqlite.audience_sql import audience_condition
from pushgate.store.sqlite.connection import SQLiteConnections

_NOTIFICATION_COLUMNS = (
    "key, id, site_id, payload, audience, ttl, urgency, topic, idempotency_key, request_hash, "
    "status, created_at, expanded, targeted, accepted, failed, gone, delivered, clicked, "
    "dismissed, error"
)


class NotificationVerbs(SQLiteConnections):
    async def create_notification(
        self, site_id: str, new: NewNotification
    ) -> tuple[Notification, bool]:
        async with self._transaction() as db:
            if new.idempotency_key is not None:
                async with db.execute(
                    f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications "
                    "WHERE site_id = ? AND idempotency_key = ?",
                    (site_id, new.idempotency_key),
                ) as cur:
                    row = await cur.fetchone()
                if row is not None:
                    if row["request_hash"] != new.request_hash:
                        raise IdempotencyConflict(new.idempotency_key)
                    return _notification(row), False
            public_id = uuid.uuid4().hex
            await db.execute(
                "INSERT INTO notifications (id, site_id, payload, audience, ttl, urgency, topic, "
                "idempotency_key, request_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    public_id,
                    site_id,
                    json.dumps(new.payload),
                    json.dumps(new.audience.to_json()),
                    new.ttl,
                    new.urgency,
                    new.topic,
                    new.idempotency_key,
                    new.request_hash,
                    time.time(),
                ),
            )
            async with db.execute(
                f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications WHERE id = ?", (public_id,)
            ) as cur:
                row = await cur.fetchone()
        assert row is not None
        return _notification(row), True

    async def get_notification(self, site_id: str, notification_id: str) -> Notification | None:
        row = await self._one(
            f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications WHERE site_id = ? AND id = ?",
            (site_id, notification_id),
        )
        return _notification(row) if row else None

    async def active_notifications(self) -> list[Notification]:
        rows = await self._all(
            f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications "
            "WHERE status IN ('queued', 'sending') ORDER BY key"
        )
        return [_notification(r) for r in rows]

    async def finish_notification(self, notification_key: int) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE notifications SET status = 'done' WHERE key = ?", (notification_key,)
            )

    async def fail_notification(self, notification_key: int, error: str) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE notifications SET status = 'failed', error = ? WHERE key = ?",
                (error[:1000], notification_key),
            )

    async def delivery_ref(
        self, notification_key: int, subscription_key: int
    ) -> DeliveryRef | None:
        row = await self._one(
            "SELECT n.site_id FROM deliveries d JOIN notifications n ON n.key = d.notification_key "
            "WHERE d.notification_key = ? AND d.subscription_key = ?",
            (notification_key, subscription_key),
        )
        return DeliveryRef(notification_key, subscription_key, row[0]) if row else None

    async def record_event(self, ref: DeliveryRef, kind: str, action: str | None) -> bool:
        """Count an event once per delivery and kind; returns False for a repeat."""
        async with self._transaction() as db:
            cur = await db.execute(
                "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?)",
                (ref.notification_key, ref.subscription_key, kind, action, time.time()),
            )
            if cur.rowcount == 0:
                return False
            await db.execute(
                f"UPDATE notifications SET {kind} = {kind} + 1 WHERE key = ?",  # kind is validated
                (ref.notification_key,),
            )
            return True


def _notification(row: aiosqlite.Row) -> Notification:
    counts = Counts(
        row["targeted"],
        row["accepted"],
        row["failed"],
        row["gone"],
        row["delivered"],
        row["clicked"],
        row["dismissed"],
    )
    return Notification(
        row["id"],
        row["key"],
        row["site_id"],
        json.loads(row["payload"]),
        Audience.from_json(json.loads(row["audience"])),
        row["ttl"],
        row["urgency"],
        row["topic"],
        row["idempotency_key"],
        row["request_hash"],
        row["status"],
        row["created_at"],
        bool(row["expanded"]),
        counts,
        row["error"],
    )


def audience_filter(audience: Audience) -> tuple[str, list[Any]]:
    """The condition on `subscriptions` (unaliased) that `audience` selects, for expansion.
    A saved segment must be resolved first: expanding code calls
    pushgate.store.sqlite.segments.expansion_condition(db, notification) inside its write,
    which resolves (once per notification) and keeps the result."""
    return audience_condition(audience, "", time.time(), streaming=True)
