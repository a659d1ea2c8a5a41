"""PostgreSQL verbs for scheduled delivery: writing due times per time zone, and claiming what
is due, with the frequency cap and end of life decided in the same transaction as the claim
(mirrors store/sqlite/claims.py).

Several gateways claim from one notification at once: each takes due rows FOR UPDATE SKIP
LOCKED, so they take disjoint sets without waiting for each other, and leases them in the same
short transaction. A delivery whose lease has passed is due again, as any other.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from pushgate.store.base import DuePlan, HoldPlan
from pushgate.store.models import DeliveryTarget, Notification
from pushgate.store.postgres.connection import PostgresConnections
from pushgate.store.postgres.deliveries import (
    EARLIEST_DUE,
    add_to_counter,
    lock_notification,
    rowcount,
)
from pushgate.store.postgres.segments import next_audience_rows

EXPIRED = "expired"
# With quiet hours a claim reads at least this many due rows and holds every quiet one it
# found: a throttled claim of two a second does not move a night's deliveries two at a time.
HOLD_SCAN_ROWS = 500


class ClaimVerbs(PostgresConnections):
    async def expand_audience_due(
        self, notification: Notification, limit: int, plan: DuePlan
    ) -> int:
        """Turn the next `limit` matching subscribers into pending deliveries due when `plan`
        says for their time zone, resumably; none is claimed. Returns how many were read
        (another gateway expanding the same notification waits, then reads the next batch)."""
        async with self._transaction(durable=False) as conn:
            if not await lock_notification(conn, notification.key):
                return 0  # deleted with its site
            rows = await next_audience_rows(conn, notification, "key, timezone", limit)
            if rows is None:
                return 0
            due = plan(list({r[1] for r in rows}))
            done = await conn.execute(
                "INSERT INTO deliveries (notification_key, subscription_key, state, "
                "next_attempt_at, expires_at) SELECT $1, k, 'pending', at, ex "
                "FROM unnest($2::bigint[], $3::float8[], $4::float8[]) AS u(k, at, ex) "
                "ON CONFLICT DO NOTHING",
                notification.key,
                [r[0] for r in rows],
                [due[r[1]][0] for r in rows],
                [due[r[1]][1] for r in rows],
            )
            await conn.execute(
                "UPDATE notifications SET cursor = COALESCE($1, cursor), "
                "targeted = targeted + $2, expanded = $3 WHERE key = $4",
                rows[-1][0] if rows else None,
                rowcount(done),
                len(rows) < limit,
                notification.key,
            )
        return len(rows)

    async def has_due(self, notification_key: int, now: float) -> bool:
        """Whether any delivery is due (a read: the common answer, no, costs no write).

        Asked as the earliest due time, read from the first live entry of deliveries_pending
        (EARLIEST_DUE). `… AND next_attempt_at <= $2 LIMIT 1` let the planner expect a
        match early in a sequential scan (statistics from an emptier table count every row
        pending and due), so during a broadcast, where every pending row is leased into the
        future and none matches, each claim read the whole table: 5-50 ms a claim at 100,000,
        most of PostgreSQL's CPU per message."""
        row = await self._one(EARLIEST_DUE, notification_key)
        return row is not None and row[0] <= now

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
        time zone. A cancelled notification has none. Due rows another gateway is claiming
        at this moment are left to it."""
        if not await self.has_due(notification_key, now):
            return []
        async with self._transaction(durable=False) as conn:
            # KEY SHARE: other claims and counter updates go on; a cancel (FOR UPDATE) waits
            # for this claim, or this claim for it and then sees it cancelled.
            status = await conn.fetchval(
                "SELECT status FROM notifications WHERE key = $1 FOR KEY SHARE", notification_key
            )
            if status is None or status == "cancelled":
                return []
            scan = limit if hold is None else max(limit, HOLD_SCAN_ROWS)
            rows = await _due_rows(conn, notification_key, now, scan, exclude)
            if not rows:
                return []
            gone = [r for r in rows if r[3] is None]
            expired = [r for r in rows if r[3] is not None and r[2] is not None and r[2] <= now]
            live = [r for r in rows if r[3] is not None and (r[2] is None or r[2] > now)]
            if hold is not None:
                live = await _hold(conn, live, now, hold)
            live = live[:limit]  # the rest of what was read stays due, untouched
            capped = await _capped(conn, [r[0] for r in live], now, cap) if cap else set()
            claimed = [r for r in live if r[0] not in capped]
            await _settle(conn, notification_key, "gone", gone, "subscription removed")
            await _settle(conn, notification_key, "failed", expired, EXPIRED)
            capped_rows = sorted((r for r in live if r[0] in capped), key=lambda r: r[0])
            await _settle(conn, notification_key, "capped", capped_rows, "frequency cap")
            if claimed:
                await conn.execute(
                    "UPDATE deliveries SET next_attempt_at = $1, leased = TRUE "
                    "WHERE ctid = ANY($2::tid[])",
                    lease_until,
                    [r[7] for r in claimed],
                )
            await conn.execute(
                "UPDATE notifications SET status = 'sending' WHERE key = $1 "
                "AND status IN ('scheduled', 'queued')",
                notification_key,
            )
        return [
            DeliveryTarget(notification_key, r[0], r[3], r[4], r[5], r[1], r[2] or 0.0, r[8])
            for r in claimed
        ]

    async def handed_over_since(
        self, notification_key: int, since: float, now: float, lease_seconds: float
    ) -> list[tuple[float, int]]:
        """(when, how many) of this notification's deliveries handed to push services after
        `since`, as far as the store knows: accepted then, or claimed then and still leased
        (a lease ends `lease_seconds` after its claim; one at its end, or given back at a
        stop, counts at that moment). A throttle reads its window back from this when it
        starts in this gateway (after a restart, or taking over from another one). The leased
        ones are ranges of the pending index; the accepted ones cost a pass over this
        notification's deliveries (no index has them by time), once per run start."""
        rows = await self._all(
            "SELECT accepted_at, COUNT(*) FROM deliveries WHERE notification_key = $1 "
            "AND state = 'accepted' AND accepted_at > $2 GROUP BY accepted_at "
            f"UNION ALL SELECT next_attempt_at, COUNT(*) FROM deliveries WHERE {_leased(2, 3)} "
            "GROUP BY next_attempt_at "
            f"UNION ALL SELECT next_attempt_at - $5, COUNT(*) FROM deliveries "
            f"WHERE {_leased(4, 6)} GROUP BY next_attempt_at",
            notification_key,
            since,
            now,
            max(since + lease_seconds, now),
            lease_seconds,
            now + lease_seconds,
        )
        return sorted((float(r[0]), int(r[1])) for r in rows)


def _leased(low: int, high: int) -> str:
    """Leased deliveries of notification $1 whose due time (the lease's end) lies in
    ($low, $high]."""
    return (
        f"notification_key = $1 AND state = 'pending' AND leased "
        f"AND next_attempt_at > ${low} AND next_attempt_at <= ${high}"
    )


async def _due_rows(
    conn: asyncpg.Connection,
    notification_key: int,
    now: float,
    limit: int,
    exclude: Sequence[int],
) -> list[asyncpg.Record]:
    """(subscription key, attempts, expires_at, endpoint, p256dh, auth, timezone, ctid, variant)
    of due
    deliveries, locked for this transaction; endpoint None when the subscription is gone.
    SKIP LOCKED: rows another gateway is claiming or settling now are not ours to take.

    The claim then writes each row once, by its ctid, which no one else can change while
    this transaction holds the row: a fixed plan (by key, the planner could read every
    delivery of the notification for each batch when its statistics are stale)."""
    return list(
        await conn.fetch(
            "SELECT d.subscription_key, d.attempts, d.expires_at, s.endpoint, s.p256dh, "
            "s.auth, s.timezone, d.ctid, d.variant "
            "FROM deliveries d LEFT JOIN subscriptions s ON s.key = d.subscription_key "
            "WHERE d.notification_key = $1 AND d.state = 'pending' AND d.next_attempt_at <= $2 "
            "AND d.subscription_key <> ALL($4::bigint[]) "
            "ORDER BY d.next_attempt_at LIMIT $3 FOR UPDATE OF d SKIP LOCKED",
            notification_key,
            now,
            limit,
            list(exclude),
        )
    )


async def _hold(
    conn: asyncpg.Connection, rows: list[asyncpg.Record], now: float, hold: HoldPlan
) -> list[asyncpg.Record]:
    """The rows that may go now; the others become due when `hold` says (not claimed, no
    attempt counted)."""
    until = hold(list({r[6] for r in rows}))
    held = [r for r in rows if until[r[6]] > now]
    if held:
        await conn.execute(
            "UPDATE deliveries d SET next_attempt_at = h.until, leased = FALSE "
            "FROM unnest($1::tid[], $2::float8[]) AS h(t, until) "
            "WHERE d.ctid = ANY($1::tid[]) AND d.ctid = h.t",
            [r[7] for r in held],
            [until[r[6]] for r in held],
        )
    return [r for r in rows if until[r[6]] <= now]


async def _capped(
    conn: asyncpg.Connection, subscription_keys: list[int], now: float, cap: tuple[int, float]
) -> set[int]:
    """The subscribers who had `max` notifications accepted within the period before `now`
    (the index on (subscription_key, accepted_at) answers this per subscriber)."""
    most, seconds = cap
    rows = await conn.fetch(
        "SELECT subscription_key FROM deliveries "
        "WHERE subscription_key = ANY($1::bigint[]) AND accepted_at > $2 "
        "GROUP BY subscription_key HAVING COUNT(*) >= $3",
        subscription_keys,
        now - seconds,
        most,
    )
    return {r[0] for r in rows}


async def _settle(
    conn: asyncpg.Connection,
    notification_key: int,
    state: str,
    rows: list[asyncpg.Record],
    reason: str,
) -> None:
    """Settle due deliveries that will not be sent (this transaction holds them, pending),
    and count them."""
    if not rows:
        return
    done = await conn.execute(
        "UPDATE deliveries SET state = $1, reason = $2, leased = FALSE WHERE ctid = ANY($3::tid[])",
        state,
        reason,
        [r[7] for r in rows],
    )
    await add_to_counter(conn, notification_key, state, rowcount(done))  # one of three
