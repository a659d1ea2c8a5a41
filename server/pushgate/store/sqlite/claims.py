"""SQLite verbs for scheduled delivery: writing due times per time zone, and claiming what is
due, with the frequency cap and end of life decided in the same transaction as the claim."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import aiosqlite

from pushgate.store.base import DuePlan, HoldPlan
from pushgate.store.models import DeliveryTarget, Notification
from pushgate.store.sqlite.connection import SQLiteConnections
from pushgate.store.sqlite.segments import next_audience_rows
from pushgate.store.sqlite.stats import count_outcome

EXPIRED = "expired"
# With quiet hours a claim reads at least this many due rows and holds every quiet one it
# found: a throttled claim of two a second does not move a night's deliveries two at a time.
HOLD_SCAN_ROWS = 500


class ClaimVerbs(SQLiteConnections):
    async def expand_audience_due(
        self, notification: Notification, limit: int, plan: DuePlan
    ) -> int:
        """Turn the next `limit` matching subscribers into pending deliveries due when `plan`
        says for their time zone, resumably; none is claimed. Returns how many were read."""
        async with self._transaction(durable=False) as db:
            rows = await next_audience_rows(db, notification, "key, timezone", limit)
            if rows is None:
                return 0
            due = plan(list({r[1] for r in rows}))
            await db.execute(
                "INSERT OR IGNORE INTO deliveries (notification_key, subscription_key, state, "
                "next_attempt_at, expires_at) SELECT ?, value ->> 0, 'pending', value ->> 1, "
                "value ->> 2 FROM json_each(?)",
                (notification.key, json.dumps([[r[0], *due[r[1]]] for r in rows])),
            )
            await db.execute(
                "UPDATE notifications SET cursor = COALESCE(?, cursor), targeted = targeted + ?, "
                "expanded = ? "
                "WHERE key = ?",
                (
                    rows[-1][0] if rows else None,
                    len(rows),
                    len(rows) < limit,
                    notification.key,
                ),
            )
        return len(rows)

    async def has_due(self, notification_key: int, now: float) -> bool:
        """Whether any delivery is due (a read: the common answer, no, costs no write)."""
        row = await self._one(
            "SELECT 1 FROM deliveries WHERE notification_key = ? AND state = 'pending' "
            "AND next_attempt_at <= ? LIMIT 1",
            (notification_key, now),
        )
        return row is not None

    async def claim_due(
        self,
        notification_key: int,
        now: float,
        limit: int,
        lease_until: float,
        *,
        cap: tuple[int, float] | None = None,
        hold: HoldPlan | None = None,
        exclude: Sequence[int] = (),
    ) -> list[DeliveryTarget]:
        """Claim up to `limit` due deliveries until `lease_until`, in one transaction that also
        settles the due ones that may not go: the subscription is gone, their end of life
        passed (failed, `expired`), or the subscriber had `cap` = (max, seconds) accepted
        notifications within the rolling period (capped). `hold` moves the due ones that must
        wait (a retry that fell into the subscriber's quiet hours) to the time it names, per
        time zone. A cancelled notification has none."""
        if not await self.has_due(notification_key, now):
            return []
        async with self._transaction(durable=False) as db:
            async with db.execute(
                "SELECT status FROM notifications WHERE key = ?", (notification_key,)
            ) as cur:
                row = await cur.fetchone()
            if row is None or row[0] == "cancelled":
                return []
            scan = limit if hold is None else max(limit, HOLD_SCAN_ROWS)
            rows = await _due_rows(db, notification_key, now, scan, exclude)
            if not rows:
                return []
            gone = [r[0] for r in rows if r[3] is None]
            expired = [r[0] for r in rows if r[3] is not None and r[2] is not None and r[2] <= now]
            live = [r for r in rows if r[3] is not None and (r[2] is None or r[2] > now)]
            if hold is not None:
                live = await _hold(db, notification_key, live, now, hold)
            live = live[:limit]  # the rest of what was read stays due, untouched
            capped = await _capped(db, [r[0] for r in live], now, cap) if cap else set()
            claimed = [r for r in live if r[0] not in capped]
            await _settle(db, notification_key, "gone", gone, "subscription removed")
            await _settle(db, notification_key, "failed", expired, EXPIRED)
            await _settle(db, notification_key, "capped", sorted(capped), "frequency cap")
            await db.execute(
                "UPDATE deliveries SET next_attempt_at = ?, leased = 1 WHERE notification_key = ? "
                "AND subscription_key IN (SELECT value FROM json_each(?))",
                (lease_until, notification_key, json.dumps([r[0] for r in claimed])),
            )
            await db.execute(
                "UPDATE notifications SET status = 'sending' WHERE key = ? "
                "AND status IN ('scheduled', 'queued')",
                (notification_key,),
            )
        return [
            DeliveryTarget(notification_key, r[0], r[3], r[4], r[5], r[1], r[2] or 0.0, r[7])
            for r in claimed
        ]

    async def handed_over_since(
        self, notification_key: int, since: float, now: float, lease_seconds: float
    ) -> list[tuple[float, int]]:
        """(when, how many) of this notification's deliveries handed to push services after
        `since`, as far as the store knows: accepted then, or claimed then and still leased
        (a lease ends `lease_seconds` after its claim; one at its end, or given back at a
        stop, counts at that moment). A throttle reads its window back from this after a
        restart. The leased ones are ranges of the pending index; the accepted ones cost a pass
        over this notification's deliveries (no index has them by time), once per run start."""
        rows = await self._all(
            f"SELECT accepted_at, COUNT(*) FROM deliveries WHERE notification_key = ? "
            f"AND state = 'accepted' AND accepted_at > ? GROUP BY accepted_at "
            f"UNION ALL SELECT next_attempt_at, COUNT(*) FROM deliveries WHERE {_LEASED} "
            f"GROUP BY next_attempt_at "
            f"UNION ALL SELECT next_attempt_at - ?, COUNT(*) FROM deliveries WHERE {_LEASED} "
            f"GROUP BY next_attempt_at",
            (notification_key, since)
            + (notification_key, since, now)
            + (
                lease_seconds,
                notification_key,
                max(since + lease_seconds, now),
                now + lease_seconds,
            ),
        )
        return sorted((float(r[0]), int(r[1])) for r in rows)


# Leased deliveries of a notification whose due time (the lease's end) is in a range.
_LEASED = (
    "notification_key = ? AND state = 'pending' AND leased "
    "AND next_attempt_at > ? AND next_attempt_at <= ?"
)


async def _due_rows(
    db: aiosqlite.Connection, notification_key: int, now: float, limit: int, exclude: Sequence[int]
) -> list[Any]:
    """(subscription key, attempts, expires_at, endpoint, p256dh, auth, timezone, variant) of due
    deliveries; endpoint None when the subscription is gone."""
    async with db.execute(
        "SELECT d.subscription_key, d.attempts, d.expires_at, s.endpoint, s.p256dh, s.auth, "
        "s.timezone, d.variant "
        "FROM deliveries d LEFT JOIN subscriptions s ON s.key = d.subscription_key "
        "WHERE d.notification_key = ? AND d.state = 'pending' AND d.next_attempt_at <= ? "
        "ORDER BY d.next_attempt_at LIMIT ?",
        (notification_key, now, limit + len(exclude)),
    ) as cur:
        rows = list(await cur.fetchall())
    skip = set(exclude)
    return [r for r in rows if r[0] not in skip][:limit]


async def _hold(
    db: aiosqlite.Connection, notification_key: int, rows: list[Any], now: float, hold: HoldPlan
) -> list[Any]:
    """The rows that may go now; the others become due when `hold` says (not claimed, no
    attempt counted)."""
    until = hold(list({r[6] for r in rows}))
    held = [(until[r[6]], notification_key, r[0]) for r in rows if until[r[6]] > now]
    await db.executemany(
        "UPDATE deliveries SET next_attempt_at = ?, leased = 0 "
        "WHERE notification_key = ? AND subscription_key = ?",
        held,
    )
    return [r for r in rows if until[r[6]] <= now]


async def _capped(
    db: aiosqlite.Connection, subscription_keys: list[int], now: float, cap: tuple[int, float]
) -> set[int]:
    """The subscribers who had `max` notifications accepted within the period before `now`
    (the index on (subscription_key, accepted_at) answers this per subscriber)."""
    most, seconds = cap
    async with db.execute(
        "SELECT subscription_key FROM deliveries "
        "WHERE subscription_key IN (SELECT value FROM json_each(?)) AND accepted_at > ? "
        "GROUP BY subscription_key HAVING COUNT(*) >= ?",
        (json.dumps(subscription_keys), now - seconds, most),
    ) as cur:
        return {r[0] for r in await cur.fetchall()}


async def _settle(
    db: aiosqlite.Connection, notification_key: int, state: str, keys: list[int], reason: str
) -> None:
    """Settle due deliveries that will not be sent, and count them."""
    if not keys:
        return
    cur = await db.execute(
        "UPDATE deliveries SET state = ?, reason = ?, leased = 0 WHERE notification_key = ? "
        "AND state = 'pending' AND subscription_key IN (SELECT value FROM json_each(?))",
        (state, reason, notification_key, json.dumps(keys)),
    )
    await db.execute(
        f"UPDATE notifications SET {state} = {state} + ? WHERE key = ?",  # state is one of three
        (cur.rowcount, notification_key),
    )
    if state == "failed":  # expired before sending: a failure the roll-ups count too
        await count_outcome(db, notification_key, "failed", cur.rowcount, time.time())
