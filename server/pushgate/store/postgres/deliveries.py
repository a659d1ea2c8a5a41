"""PostgreSQL verbs for deliveries: audience expansion, due work, outcomes and their counters
(mirrors store/sqlite/deliveries.py).

Many gateways work on one notification at once, so every verb here is written for a rival
doing the same at the same moment. The rules that keep them apart and free of deadlocks:
- expansion holds the notification row (FOR NO KEY UPDATE) while it reads the next audience
  rows and moves the cursor, so two expansions take disjoint batches;
- a writer that may wait for delivery rows locks them in (notification, subscription) key
  order (`locked_keys`, `locked_pending`, or record_accepted's update itself, row by row in
  key order) and touches the notification row only after them, so two writers never wait
  for each other in a circle;
- an outcome changes only a delivery still pending, and counts only what it changed.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence

import asyncpg

from pushgate.store.models import (
    DeliveryResult,
    DeliveryTarget,
    Notification,
)
from pushgate.store.postgres.connection import PostgresConnections
from pushgate.store.postgres.segments import next_audience_rows
from pushgate.store.postgres.stats import add_counted, count_outcomes, count_subscribers
from pushgate.store.stats_rows import DELIVERY_COUNTS


class DeliveryVerbs(PostgresConnections):
    async def expand_audience(
        self, notification: Notification, limit: int, lease_until: float
    ) -> list[DeliveryTarget]:
        """Turn the next `limit` matching subscribers into pending deliveries, resumably.

        The new deliveries are leased to the caller until `lease_until`: not due before then.
        Another gateway expanding the same notification waits for this batch and reads the next.
        """
        try:
            return await self._expand(notification, limit, lease_until, ON_NEW_ONLY)
        except asyncpg.UniqueViolationError:
            # Never seen: the cursor moves with the batch. Should a row be there all the same,
            # the batch is read again and that row left as it is.
            return await self._expand(notification, limit, lease_until, ON_CONFLICT_SKIP)

    async def _expand(
        self, notification: Notification, limit: int, lease_until: float, on_conflict: str
    ) -> list[DeliveryTarget]:
        async with self._transaction(durable=False) as conn:
            if not await lock_notification(conn, notification.key):
                return []  # deleted with its site
            rows = await next_audience_rows(
                conn, notification, "key, endpoint, p256dh, auth", limit
            )
            if rows is None:
                return []
            # One statement for the whole batch.
            inserted = await conn.fetch(
                "INSERT INTO deliveries (notification_key, subscription_key, state, "
                "next_attempt_at, leased) SELECT $1, k, 'pending', $2, TRUE "
                f"FROM unnest($3::bigint[]) AS k {on_conflict}RETURNING subscription_key",
                notification.key,
                lease_until,
                [r[0] for r in rows],
            )
            await conn.execute(
                "UPDATE notifications SET cursor = COALESCE($1, cursor), "
                "targeted = targeted + $2, expanded = $3, status = 'sending' WHERE key = $4",
                rows[-1][0] if rows else None,
                len(inserted),
                len(rows) < limit,
                notification.key,
            )
        new = {r[0] for r in inserted}
        key = notification.key
        return [DeliveryTarget(key, r[0], r[1], r[2], r[3], 0) for r in rows if r[0] in new]

    async def release_leases(self) -> None:
        """Nothing, on PostgreSQL. On SQLite a starting gateway is the only process, so every
        lease in the file is a dead process's and is freed at once. Here other gateways may be
        alive and hold those leases (their messages in flight): freeing them would send those
        messages twice. A lease lapses by time instead (claim_due takes a delivery whose lease
        has passed, as it takes any due one), and a live gateway renews what it still holds
        (renew_leases), so only a dead gateway's work is taken over."""
        return None

    async def next_retry_at(self, notification_key: int) -> float | None:
        row = await self._one(EARLIEST_DUE, notification_key)
        return row[0] if row else None

    async def record_results(
        self, results: Sequence[DeliveryResult], now: float | None = None
    ) -> None:
        """Write a batch of outcomes, their counters, and remove gone subscribers, atomically.

        Only deliveries still pending change, and only they are counted: an outcome that
        arrives twice for one delivery (a message sent again after a restart, or by two
        gateways) counts once.
        """
        if not results:
            return
        now = time.time() if now is None else now
        fresh = sorted(_first_per_delivery(results), key=lambda r: r[:2])  # in lock order
        async with self._transaction(durable=False) as conn:
            changed = await conn.fetch(
                f"WITH batch AS ({_BATCH}), "
                + locked_keys("batch k", notification="k.n")
                + "UPDATE deliveries d SET state = b.state, attempts = d.attempts + 1, "
                "last_status = b.status, reason = b.reason, next_attempt_at = b.next_at, "
                "leased = FALSE, accepted_at = CASE WHEN b.state = 'accepted' THEN $7::float8 END "
                "FROM locked l JOIN batch b "
                "ON b.n = l.notification_key AND b.s = l.subscription_key "
                f"WHERE {_LOCKED_PENDING} "
                "RETURNING d.notification_key, d.subscription_key, b.state",
                [r.notification_key for r in fresh],
                [r.subscription_key for r in fresh],
                [r.state for r in fresh],
                [r.status for r in fresh],
                [r.reason or None for r in fresh],
                [r.next_attempt_at for r in fresh],
                now,
            )
            counters: dict[int, Counter[str]] = defaultdict(Counter)
            for row in changed:
                if row[2] != "pending":
                    counters[row[0]][row[2]] += 1
            for key in sorted(counters):  # in key order, as every writer takes them
                counts = counters[key]
                await conn.execute(
                    "UPDATE notifications SET accepted = accepted + $1, failed = failed + $2, "
                    "gone = gone + $3 WHERE key = $4",
                    counts["accepted"],
                    counts["failed"],
                    counts["gone"],
                    key,
                )
            await count_outcomes(conn, counters, now)
            gone = sorted({row[1] for row in changed if row[2] == "gone"})
            if gone:  # deleted and counted in one statement
                await count_subscribers(
                    conn,
                    "DELETE FROM subscriptions WHERE key = ANY($1::bigint[]) RETURNING *",
                    [gone],
                    sign=-1,
                    change="gone",
                    at=now,
                )

    async def record_accepted(
        self,
        notification_key: int,
        subscription_keys: Sequence[int],
        status: int,
        now: float | None = None,
    ) -> None:
        """Mark deliveries the push service accepted at `now`, in one statement (a second for
        the few rows changed meanwhile): the common outcome of a broadcast. As in
        record_results, only deliveries still pending change and count. Frequency caps count
        accepted deliveries by `accepted_at`."""
        if not subscription_keys:
            return
        now = time.time() if now is None else now
        keys = sorted(set(subscription_keys))
        async with self._transaction(durable=False) as conn:
            # Without an explicit row lock, which would write each row twice: the update
            # takes the rows in key order (one primary-key probe each, OFFSET 0 keeps the
            # planner from turning the probes into a scan of the notification's deliveries),
            # each by the ctid of the version this statement's snapshot sees, pending then.
            # The state is tested on that version, not on `d`: `d.state = 'pending'` let a
            # generic plan read every pending delivery (deliveries_pending) for each key.
            changed = await conn.fetch(
                "UPDATE deliveries d SET state = 'accepted', attempts = d.attempts + 1, "
                "last_status = $3, reason = NULL, next_attempt_at = 0, accepted_at = $4 "
                "FROM unnest($2::bigint[]) AS k(s) CROSS JOIN LATERAL (SELECT ctid AS t, state "
                "FROM deliveries WHERE notification_key = $1 AND subscription_key = k.s "
                "OFFSET 0) AS l WHERE d.ctid = l.t AND l.state = 'pending' "
                "RETURNING d.subscription_key",
                notification_key,
                keys,
                status,
                now,
            )
            # at `now`, as accepted_at: the roll-ups' minute is the deliveries' minute
            await add_to_counter(conn, notification_key, "accepted", len(changed), now)
        if len(changed) == len(keys):
            return
        # A row another statement changed since the snapshot (a lease renewed: a new row
        # version, whose ctid the update's recheck no longer matches) was passed over, as was
        # one settled already. Those are locked and read as they are now, and change if still
        # pending: in a transaction of their own, so that each takes its rows in key order.
        updated = {row[0] for row in changed}
        rest = [k for k in keys if k not in updated]
        async with self._transaction(durable=False) as conn:
            done = await conn.execute(
                "WITH "
                + locked_keys("unnest($2::bigint[]) AS k(s)")
                + "UPDATE deliveries d SET state = 'accepted', attempts = d.attempts + 1, "
                "last_status = $3, reason = NULL, next_attempt_at = 0, accepted_at = $4 "
                f"FROM locked l WHERE {_LOCKED_PENDING}",
                notification_key,
                rest,
                status,
                now,
            )
            await add_to_counter(conn, notification_key, "accepted", rowcount(done), now)

    async def expire_pending(self, notification_key: int, reason: str) -> int:
        async with self._transaction(durable=False) as conn:
            done = await conn.execute(
                "WITH "
                + locked_pending("notification_key = $1")
                + "UPDATE deliveries d SET state = 'failed', reason = $2, leased = FALSE "
                f"FROM locked l WHERE {_LOCKED_PENDING}",
                notification_key,
                reason,
            )
            await add_to_counter(conn, notification_key, "failed", rowcount(done))
            return rowcount(done)

    async def defer_deliveries(
        self, notification_key: int, subscription_keys: Sequence[int], until: float
    ) -> None:
        """Move pending deliveries' due time to `until`, counting no attempt."""
        async with self._transaction(durable=False) as conn:
            await conn.execute(
                "WITH "
                + locked_keys("unnest($2::bigint[]) AS k(s)")
                + "UPDATE deliveries d SET next_attempt_at = $3, leased = FALSE "
                f"FROM locked l WHERE {_LOCKED_PENDING}",
                notification_key,
                sorted(set(subscription_keys)),
                until,
            )


# The earliest due time of a notification's pending deliveries (no row: none pending), read
# from the first live entry of deliveries_pending. Not as `SELECT MIN(…)`: for a notification
# newer than the table's statistics (estimated at one pending row), a custom plan of that
# aggregated every pending row of the notification instead (3-10 ms at 100,000), and each of
# a pool's connections runs its first five calls on custom plans: 2.4-3.4 ms a call on average
# in the benchmark's broadcasts on two workers, ~1 ms now. ORDER BY … LIMIT 1 reads the
# index in order under any plan, and stops at its first live entry.
EARLIEST_DUE = (
    "SELECT next_attempt_at FROM deliveries WHERE notification_key = $1 AND state = 'pending' "
    "ORDER BY next_attempt_at LIMIT 1"
)
# The outcomes of record_results, $1..$6 as arrays: one row per delivery, in key order.
_BATCH = (
    "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::int[], $5::text[], "
    "$6::float8[]) AS b(n, s, state, status, reason, next_at)"
)
# The delivery row `d` of a `locked` row, if that is pending now (it may have been settled
# while the statement waited for its lock: `locked` holds its state after the wait).
_LOCKED_PENDING = (
    "d.notification_key = l.notification_key AND d.subscription_key = l.subscription_key "
    "AND l.state = 'pending'"
)


def locked_keys(keys: str, *, notification: str = "$1") -> str:
    """A common table expression `locked`: the delivery of each subscription key `k.s` of
    the FROM item `keys` (of notification `notification`), locked, with its state as it is
    once locked. Callers give the keys sorted: every writer that waits for delivery rows takes
    them in key order, so two writers never each hold what the other waits for.

    One primary-key probe per key, whatever the statistics say: a filter such as `state =
    'pending' AND subscription_key = ANY($2)` let the planner read every pending delivery of
    the notification (through deliveries_pending) for each batch, 0.3-15 s at 100,000, when
    the table had no statistics yet or the notification was newer than them."""
    return (
        "locked AS (SELECT d.notification_key, d.subscription_key, d.state "
        f"FROM {keys} CROSS JOIN LATERAL (SELECT notification_key, subscription_key, state "
        f"FROM deliveries WHERE notification_key = {notification} AND subscription_key = k.s "
        "FOR UPDATE) d) "
    )


def locked_pending(where: str, *, skip_locked: bool = False) -> str:
    """A common table expression `locked`: every pending delivery matching `where` (of one
    notification: it reads them through deliveries_pending), locked in key order, as
    locked_keys does. `skip_locked` passes over rows another transaction holds, for a caller
    that must not wait (it holds the notification row)."""
    skip = " SKIP LOCKED" if skip_locked else ""
    return (
        "locked AS (SELECT notification_key, subscription_key, state FROM deliveries "
        f"WHERE state = 'pending' AND {where} "
        f"ORDER BY notification_key, subscription_key FOR UPDATE{skip}) "
    )


async def lock_notification(conn: asyncpg.Connection, notification_key: int) -> bool:
    """Hold the notification row until the transaction ends: one expansion (or cancel) of it
    at a time. NO KEY UPDATE, as any counter update takes: claims (FOR KEY SHARE) go on.
    False: the row is gone (its site was deleted), so nothing may be written for it."""
    found = await conn.fetchval(
        "SELECT 1 FROM notifications WHERE key = $1 FOR NO KEY UPDATE", notification_key
    )
    return found is not None


# expand_audience's INSERT: plain, or passing over rows already there
ON_NEW_ONLY = ""
ON_CONFLICT_SKIP = "ON CONFLICT DO NOTHING "


async def add_to_counter(
    conn: asyncpg.Connection,
    notification_key: int,
    counter: str,
    n: int,
    now: float | None = None,
) -> None:
    """notifications.`counter` += n (a column name of ours, never input); nothing for 0, so
    the row is not locked for nothing."""
    if n and counter in DELIVERY_COUNTS:  # the roll-ups count what the counters count
        await add_counted(conn, notification_key, counter, n, time.time() if now is None else now)
    elif n:
        await conn.execute(
            f"UPDATE notifications SET {counter} = {counter} + $1 WHERE key = $2",
            n,
            notification_key,
        )


def rowcount(status: str) -> int:
    """The row count of a command status: "UPDATE 3", "DELETE 0", "INSERT 0 1"."""
    return int(status.rsplit(" ", 1)[-1])


def _first_per_delivery(results: Sequence[DeliveryResult]) -> list[DeliveryResult]:
    """One result per delivery, the first (as SQLite's record_results keeps)."""
    first: dict[tuple[int, int], DeliveryResult] = {}
    for r in results:
        first.setdefault((r.notification_key, r.subscription_key), r)
    return list(first.values())
