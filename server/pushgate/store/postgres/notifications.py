"""PostgreSQL verbs for notifications and events (mirrors store/sqlite/notifications.py)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Collection

import asyncpg

from pushgate.store.base import IdempotencyConflict
from pushgate.store.models import (
    Audience,
    Counts,
    DeliveryRef,
    NewNotification,
    Notification,
)
from pushgate.store.postgres.connection import PostgresConnections
from pushgate.store.postgres.deliveries import (
    add_to_counter,
    locked_pending,
    rowcount,
)

_NOTIFICATION_COLUMNS = (
    "key, id, site_id, payload, audience, ttl, urgency, topic, idempotency_key, request_hash, "
    "status, created_at, expanded, targeted, accepted, failed, gone, delivered, clicked, "
    "dismissed, error, send_at, deliver_at_local, throttle_per_minute, ignore_quiet_hours, "
    "ignore_frequency_cap, capped, cancelled, content, ab_test, winner"
)


class NotificationVerbs(PostgresConnections):
    async def create_notification(
        self, site_id: str, new: NewNotification, *, now: float | None = None
    ) -> tuple[Notification, bool]:
        now = time.time() if now is None else now
        async with self._transaction() as conn:
            if new.idempotency_key is not None and new.idempotency_since is not None:
                await conn.execute(
                    "UPDATE notifications SET idempotency_key = NULL "
                    "WHERE site_id = $1 AND idempotency_key = $2 AND created_at < $3",
                    site_id,
                    new.idempotency_key,
                    new.idempotency_since,
                )
            if new.idempotency_key is not None:
                found = await _by_idempotency_key(conn, site_id, new)
                if found is not None:
                    return found, False
            row = await _insert(conn, site_id, new, now)
            if row is None:
                # Another gateway created it with this key since we looked: the insert waited
                # for that transaction's commit, so its notification is there to answer with.
                found = await _by_idempotency_key(conn, site_id, new)
                assert found is not None
                return found, False
        return _notification(row), True

    async def get_notification(self, site_id: str, notification_id: str) -> Notification | None:
        row = await self._one(
            f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications WHERE site_id = $1 AND id = $2",
            site_id,
            notification_id,
        )
        return _notification(row) if row else None

    async def active_notifications(self, now: float | None = None) -> list[Notification]:
        """Notifications to deliver now: queued or sending, or scheduled to start by `now`."""
        rows = await self._all(
            f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications "
            "WHERE status IN ('queued', 'sending') "
            "OR (status = 'scheduled' AND COALESCE(send_at, 0) <= $1) ORDER BY key",
            time.time() if now is None else now,
        )
        return [_notification(r) for r in rows]

    async def list_notifications(
        self, site_id: str, *, status: str | None, limit: int, after: int
    ) -> tuple[list[Notification], int | None]:
        """A page of the site's notifications (with `status` only, if given), oldest first."""
        where, args = ("AND status = $4 ", [status]) if status else ("", [])
        rows = await self._all(
            f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications WHERE site_id = $1 {where}"
            "AND key > $2 ORDER BY key LIMIT $3",
            site_id,
            after,
            limit + 1,
            *args,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return [_notification(r) for r in rows], (rows[-1]["key"] if more else None)

    async def finish_notification(self, notification_key: int) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE notifications SET status = 'done' WHERE key = $1 AND status <> 'cancelled'",
                notification_key,
            )

    async def cancel_notification(
        self, site_id: str, notification_id: str, *, from_statuses: Collection[str]
    ) -> Notification | None:
        """Cancel a notification whose status is one of `from_statuses`, atomically: one still
        scheduled loses its deliveries (it targets nobody); otherwise every pending delivery no
        engine holds is counted cancelled. Returns the notification as it is now."""
        async with self._transaction() as conn:
            # FOR UPDATE: waits for claims in flight (they hold it FOR KEY SHARE) and
            # expansions, and keeps new ones out until the status says cancelled.
            row = await conn.fetchrow(
                "SELECT key, status FROM notifications WHERE site_id = $1 AND id = $2 FOR UPDATE",
                site_id,
                notification_id,
            )
            if row is None:
                return None
            if row["status"] in from_statuses:
                await _cancel(conn, row["key"], started=row["status"] != "scheduled")
            found = await conn.fetchrow(
                f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications WHERE key = $1", row["key"]
            )
        assert found is not None
        return _notification(found)

    async def cancel_pending(
        self, notification_key: int, *, leased_too: bool = False, held: Collection[int] = ()
    ) -> int:
        """Count a cancelled notification's pending deliveries cancelled: those no engine holds
        and those the caller held (`held`: subscription keys), or all of them (when the caller
        knows no engine holds any). Others' leased ones are theirs to settle or cancel."""
        async with self._transaction(durable=False) as conn:
            return await cancel_pending(conn, notification_key, leased_too=leased_too, held=held)

    async def cancel_lapsed(self, now: float) -> int:
        """Cancel the pending deliveries of cancelled notifications whose lease ran out: their
        engine died before it could settle or cancel them."""
        async with self._transaction(durable=False) as conn:
            rows = await conn.fetch(
                # Driven by the cancelled notifications, each read through deliveries_pending:
                # a join let the planner walk every delivery of the table (by its primary key)
                # every 10 s, to find none. SKIP LOCKED never waits, so no lock order matters.
                "WITH lapsed AS (SELECT d.notification_key, d.subscription_key "
                "FROM notifications n CROSS JOIN LATERAL (SELECT notification_key, "
                "subscription_key FROM deliveries WHERE notification_key = n.key "
                "AND state = 'pending' AND next_attempt_at <= $1 FOR UPDATE SKIP LOCKED) d "
                "WHERE n.status = 'cancelled'), "
                "done AS (UPDATE deliveries d SET state = 'cancelled', leased = FALSE "
                "FROM lapsed l WHERE (d.notification_key, d.subscription_key) = "
                "(l.notification_key, l.subscription_key) AND d.state = 'pending' "
                "RETURNING d.notification_key) "
                "SELECT notification_key, count(*) AS n FROM done GROUP BY notification_key "
                "ORDER BY notification_key",
                now,
            )
            for row in rows:
                await add_to_counter(conn, row["notification_key"], "cancelled", row["n"])
            return sum(row["n"] for row in rows)

    async def fail_notification(self, notification_key: int, error: str) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE notifications SET status = 'failed', error = $1 WHERE key = $2",
                error[:1000],
                notification_key,
            )

    async def delivery_ref(
        self, notification_key: int, subscription_key: int
    ) -> DeliveryRef | None:
        row = await self._one(
            "SELECT n.site_id FROM deliveries d JOIN notifications n ON n.key = d.notification_key "
            "WHERE d.notification_key = $1 AND d.subscription_key = $2",
            notification_key,
            subscription_key,
        )
        return DeliveryRef(notification_key, subscription_key, row[0]) if row else None

    async def record_event(
        self, ref: DeliveryRef, kind: str, action: str | None, now: float | None = None
    ) -> bool:
        """Count an event once per delivery and kind; returns False for a repeat (also when
        another gateway recorded the same event a moment before)."""
        at = time.time() if now is None else now
        async with self._transaction(durable=False) as conn:
            done = await conn.execute(
                "INSERT INTO events VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                ref.notification_key,
                ref.subscription_key,
                kind,
                action,
                at,
            )
            if rowcount(done) == 0:
                return False
            await add_to_counter(conn, ref.notification_key, kind, 1, at)  # kind is validated
            return True


async def _by_idempotency_key(
    conn: asyncpg.Connection, site_id: str, new: NewNotification
) -> Notification | None:
    """The notification made with this request's Idempotency-Key; IdempotencyConflict if it
    was made from another request body."""
    row = await conn.fetchrow(
        f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications "
        "WHERE site_id = $1 AND idempotency_key = $2",
        site_id,
        new.idempotency_key,
    )
    if row is None:
        return None
    if row["request_hash"] != new.request_hash:
        raise IdempotencyConflict(new.idempotency_key)
    return _notification(row)


async def _insert(
    conn: asyncpg.Connection, site_id: str, new: NewNotification, now: float
) -> asyncpg.Record | None:
    """The new notification's row; None when one with the same Idempotency-Key won the race."""
    return await conn.fetchrow(
        "INSERT INTO notifications (id, site_id, payload, audience, ttl, urgency, topic, "
        "idempotency_key, request_hash, created_at, status, send_at, deliver_at_local, "
        "throttle_per_minute, ignore_quiet_hours, ignore_frequency_cap, content, ab_test) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, "
        "$18) "
        f"ON CONFLICT (site_id, idempotency_key) DO NOTHING RETURNING {_NOTIFICATION_COLUMNS}",
        uuid.uuid4().hex,
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
    )


async def _cancel(conn: asyncpg.Connection, notification_key: int, *, started: bool) -> None:
    """Inside cancel_notification, which holds the notification row: it must not wait for a
    delivery row (its holder may be waiting for the notification row), so rows another
    transaction holds are passed over; that transaction is settling or claiming them."""
    if started:
        await cancel_pending(conn, notification_key, leased_too=False, skip_locked=True)
    else:  # nothing was due yet: it never targeted anyone
        done = await conn.execute(
            "WITH "
            + locked_pending("notification_key = $1", skip_locked=True)
            + "DELETE FROM deliveries d USING locked l "
            "WHERE (d.notification_key, d.subscription_key) = "
            "(l.notification_key, l.subscription_key)",
            notification_key,
        )
        await add_to_counter(conn, notification_key, "targeted", -rowcount(done))
    # Expanded: no subscriber is added to it any more.
    await conn.execute(
        "UPDATE notifications SET status = 'cancelled', expanded = TRUE WHERE key = $1",
        notification_key,
    )


async def cancel_pending(
    conn: asyncpg.Connection,
    notification_key: int,
    *,
    leased_too: bool,
    skip_locked: bool = False,
    held: Collection[int] = (),
) -> int:
    mine = "" if leased_too else "AND (NOT leased OR subscription_key = ANY($2::bigint[]))"
    done = await conn.execute(
        "WITH "
        + locked_pending(f"notification_key = $1 {mine}", skip_locked=skip_locked)
        + "UPDATE deliveries d SET state = 'cancelled', leased = FALSE FROM locked l "
        "WHERE d.notification_key = l.notification_key "
        "AND d.subscription_key = l.subscription_key AND d.state = 'pending'",
        notification_key,
        *(() if leased_too else (list(held),)),
    )
    await add_to_counter(conn, notification_key, "cancelled", rowcount(done))
    return rowcount(done)


def _notification(row: asyncpg.Record) -> Notification:
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
        row["expanded"],
        counts,
        row["error"],
        send_at=row["send_at"],
        deliver_at_local=row["deliver_at_local"],
        throttle_per_minute=row["throttle_per_minute"],
        ignore_quiet_hours=row["ignore_quiet_hours"],
        ignore_frequency_cap=row["ignore_frequency_cap"],
        content=None if row["content"] is None else json.loads(row["content"]),
        ab_test=None if row["ab_test"] is None else json.loads(row["ab_test"]),
        winner=row["winner"],
    )
