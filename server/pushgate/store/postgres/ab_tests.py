"""PostgreSQL verbs for message A/B tests (mirrors store/sqlite/ab_tests.py).

Expansion holds the notification row, as every expansion does, so two gateways expanding
one test take disjoint batches and each reads the count expanded before its own. Recording
the winner updates the notification row only while it has none: of gateways choosing at the
same moment, one changes it and moves the held deliveries; the others wait for that row,
then find a winner there and change nothing.
"""

from __future__ import annotations

from pushgate.store.ab_test_rows import Split
from pushgate.store.models import Counts, Notification
from pushgate.store.postgres.connection import PostgresConnections
from pushgate.store.postgres.deliveries import lock_notification, rowcount
from pushgate.store.postgres.segments import next_audience_rows
from pushgate.store.variant_counts import variant_counts

_STATES = ("accepted", "failed", "gone", "capped", "cancelled")


class AbTestVerbs(PostgresConnections):
    async def expand_audience_split(
        self,
        notification: Notification,
        limit: int,
        split: Split,
        due: tuple[float, float],
        held_due_at: float,
    ) -> int:
        async with self._transaction(durable=False) as conn:
            if not await lock_notification(conn, notification.key):
                return 0  # deleted with its site
            rows = await next_audience_rows(conn, notification, "key", limit)
            if rows is None:
                return 0
            before = await conn.fetchval(
                "SELECT targeted FROM notifications WHERE key = $1", notification.key
            )
            variants = split(int(before), len(rows))
            at, expires_at = due
            done = await conn.execute(
                "INSERT INTO deliveries (notification_key, subscription_key, state, variant, "
                "next_attempt_at, expires_at) SELECT $1, k, 'pending', v, "
                "CASE WHEN v IS NULL THEN $4::float8 ELSE $5::float8 END, "
                "CASE WHEN v IS NULL THEN NULL ELSE $6::float8 END "
                "FROM unnest($2::bigint[], $3::int[]) AS u(k, v) ON CONFLICT DO NOTHING",
                notification.key,
                [r[0] for r in rows],
                variants,
                held_due_at,
                at,
                expires_at,
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

    async def variant_counts(self, notification_key: int, variants: int) -> list[Counts]:
        states = ", ".join(f"COUNT(*) FILTER (WHERE state = '{state}')" for state in _STATES)
        rows = await self._all(
            f"SELECT variant, COUNT(*), {states} FROM deliveries "
            "WHERE notification_key = $1 AND variant IS NOT NULL GROUP BY variant",
            notification_key,
        )
        events = await self._all(
            "SELECT d.variant, e.kind, COUNT(*) FROM events e JOIN deliveries d "
            "ON d.notification_key = e.notification_key "
            "AND d.subscription_key = e.subscription_key "
            "WHERE e.notification_key = $1 AND d.variant IS NOT NULL GROUP BY d.variant, e.kind",
            notification_key,
        )
        return variant_counts(variants, [tuple(r) for r in rows], [tuple(e) for e in events])

    async def record_winner(self, notification_key: int, winner: int, due_at: float) -> bool:
        async with self._transaction() as conn:
            changed = await conn.execute(
                "UPDATE notifications SET winner = $1 WHERE key = $2 AND winner IS NULL",
                winner,
                notification_key,
            )
            if rowcount(changed) == 0:
                return False
            await conn.execute(
                "UPDATE deliveries SET variant = $1, next_attempt_at = $2 "
                "WHERE notification_key = $3 AND state = 'pending' AND variant IS NULL",
                winner,
                due_at,
                notification_key,
            )
        return True
