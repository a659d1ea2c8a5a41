"""SQLite verbs for notifications, their audiences compiled to SQL, and events."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Collection

import aiosqlite

from pushgate.store.base import IdempotencyConflict
from pushgate.store.models import (
    Audience,
    Counts,
    DeliveryRef,
    NewNotification,
    Notification,
)
from pushgate.store.sqlite.connection import SQLiteConnections
from pushgate.store.sqlite.stats import count_outcome

_NOTIFICATION_COLUMNS = (
    "key, id, site_id, payload, audience, ttl, urgency, topic, idempotency_key, request_hash, "
    "status, created_at, expanded, targeted, accepted, failed, gone, delivered, clicked, "
    "dismissed, error, send_at, deliver_at_local, throttle_per_minute, ignore_quiet_hours, "
    "ignore_frequency_cap, capped, cancelled, content, ab_test, winner"
)


class NotificationVerbs(SQLiteConnections):
    async def create_notification(
        self, site_id: str, new: NewNotification, *, now: float | None = None
    ) -> tuple[Notification, bool]:
        now = time.time() if now is None else now
        async with self._transaction() as db:
            if new.idempotency_key is not None and new.idempotency_since is not None:
                await db.execute(
                    "UPDATE notifications SET idempotency_key = NULL "
                    "WHERE site_id = ? AND idempotency_key = ? AND created_at < ?",
                    (site_id, new.idempotency_key, new.idempotency_since),
                )
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
                "idempotency_key, request_hash, created_at, status, send_at, deliver_at_local, "
                "throttle_per_minute, ignore_quiet_hours, ignore_frequency_cap, content, ab_test) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    now,
                    new.initial_status(now),
                    new.send_at,
                    new.deliver_at_local,
                    new.throttle_per_minute,
                    new.ignore_quiet_hours,
                    new.ignore_frequency_cap,
                    None if new.content is None else json.dumps(new.content),
                    None if new.ab_test is None else json.dumps(new.ab_test),
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

    async def active_notifications(self, now: float | None = None) -> list[Notification]:
        """Notifications to deliver now: queued or sending, or scheduled to start by `now`."""
        rows = await self._all(
            f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications "
            "WHERE status IN ('queued', 'sending') "
            "OR (status = 'scheduled' AND IFNULL(send_at, 0) <= ?) ORDER BY key",
            (time.time() if now is None else now,),
        )
        return [_notification(r) for r in rows]

    async def list_notifications(
        self, site_id: str, *, status: str | None, limit: int, after: int
    ) -> tuple[list[Notification], int | None]:
        """A page of the site's notifications (with `status` only, if given), oldest first."""
        where, args = ("AND status = ? ", [status]) if status else ("", [])
        rows = await self._all(
            f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications WHERE site_id = ? {where}"
            "AND key > ? ORDER BY key LIMIT ?",
            (site_id, *args, after, limit + 1),
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return [_notification(r) for r in rows], (rows[-1]["key"] if more else None)

    async def finish_notification(self, notification_key: int) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE notifications SET status = 'done' WHERE key = ? AND status != 'cancelled'",
                (notification_key,),
            )

    async def cancel_notification(
        self, site_id: str, notification_id: str, *, from_statuses: Collection[str]
    ) -> Notification | None:
        """Cancel a notification whose status is one of `from_statuses`, atomically: one still
        scheduled loses its deliveries (it targets nobody); otherwise every pending delivery no
        engine holds is counted cancelled. Returns the notification as it is now."""
        async with self._transaction() as db:
            async with db.execute(
                "SELECT key, status FROM notifications WHERE site_id = ? AND id = ?",
                (site_id, notification_id),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return None
            if row["status"] in from_statuses:
                await _cancel(db, row["key"], started=row["status"] != "scheduled")
            async with db.execute(
                f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications WHERE key = ?", (row["key"],)
            ) as cur:
                found = await cur.fetchone()
        assert found is not None
        return _notification(found)

    async def cancel_pending(
        self, notification_key: int, *, leased_too: bool = False, held: Collection[int] = ()
    ) -> int:
        """Count a cancelled notification's pending deliveries cancelled: those no engine holds
        and those the caller held (`held`: subscription keys), or all of them (at start, when
        no engine holds any)."""
        async with self._transaction(durable=False) as db:
            return await cancel_pending(db, notification_key, leased_too=leased_too, held=held)

    async def cancel_lapsed(self, now: float) -> int:
        """Cancel the pending deliveries of cancelled notifications whose lease ran out. With
        one engine per SQLite file there are none but after a crash, which the start settles
        (release_leases); kept for the same engine code on both backends."""
        async with self._transaction(durable=False) as db:
            async with db.execute(
                "SELECT d.notification_key, count(*) FROM notifications n "
                "JOIN deliveries d ON d.notification_key = n.key "
                "WHERE n.status = 'cancelled' AND d.state = 'pending' AND d.next_attempt_at <= ? "
                "GROUP BY d.notification_key",
                (now,),
            ) as cur:
                lapsed = list(await cur.fetchall())
            for key, _count in lapsed:
                await db.execute(
                    "UPDATE deliveries SET state = 'cancelled', leased = 0 "
                    "WHERE notification_key = ? AND state = 'pending' AND next_attempt_at <= ?",
                    (key, now),
                )
                await db.execute(
                    "UPDATE notifications SET cancelled = cancelled + ? WHERE key = ?",
                    (_count, key),
                )
            return sum(count for _key, count in lapsed)

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

    async def record_event(
        self, ref: DeliveryRef, kind: str, action: str | None, now: float | None = None
    ) -> bool:
        """Count an event once per delivery and kind, at `now` (the gateway's clock; default
        the machine's); returns False for a repeat."""
        now = time.time() if now is None else now
        async with self._transaction(durable=False) as db:
            cur = await db.execute(
                "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?)",
                (ref.notification_key, ref.subscription_key, kind, action, now),
            )
            if cur.rowcount == 0:
                return False
            await db.execute(
                f"UPDATE notifications SET {kind} = {kind} + 1 WHERE key = ?",  # kind is validated
                (ref.notification_key,),
            )
            await count_outcome(db, ref.notification_key, kind, 1, now)
            return True


async def _cancel(db: aiosqlite.Connection, notification_key: int, *, started: bool) -> None:
    if started:
        await cancel_pending(db, notification_key, leased_too=False)
    else:  # nothing was due yet: it never targeted anyone
        await db.execute("DELETE FROM deliveries WHERE notification_key = ?", (notification_key,))
        await db.execute("UPDATE notifications SET targeted = 0 WHERE key = ?", (notification_key,))
    # Expanded: no subscriber is added to it any more.
    await db.execute(
        "UPDATE notifications SET status = 'cancelled', expanded = 1 WHERE key = ?",
        (notification_key,),
    )


async def cancel_pending(
    db: aiosqlite.Connection,
    notification_key: int,
    *,
    leased_too: bool,
    held: Collection[int] = (),
) -> int:
    mine = (
        ""
        if leased_too
        else "AND (NOT leased OR subscription_key IN (SELECT value FROM json_each(?)))"
    )
    cur = await db.execute(
        "UPDATE deliveries SET state = 'cancelled', leased = 0 "
        f"WHERE notification_key = ? AND state = 'pending' {mine}",
        (notification_key,) if leased_too else (notification_key, json.dumps(list(held))),
    )
    await db.execute(
        "UPDATE notifications SET cancelled = cancelled + ? WHERE key = ?",
        (cur.rowcount, notification_key),
    )
    return cur.rowcount


def _notification(row: aiosqlite.Row) -> Notification:
    counts = Counts(
        row["targeted"],
        row["accepted"],
        row["failed"],
        row["gone"],
        row["delivered"],
        row["clicked"],
        row["dismissed"],
        row["capped"],
        row["cancelled"],
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
        send_at=row["send_at"],
        deliver_at_local=row["deliver_at_local"],
        throttle_per_minute=row["throttle_per_minute"],
        ignore_quiet_hours=bool(row["ignore_quiet_hours"]),
        ignore_frequency_cap=bool(row["ignore_frequency_cap"]),
        content=None if row["content"] is None else json.loads(row["content"]),
        ab_test=None if row["ab_test"] is None else json.loads(row["ab_test"]),
        winner=row["winner"],
    )
