"""SQLite verbs for message A/B tests: expanding into the sample and the held rest, counting
per variant, and recording the winner once (the rules are content/ab_test.py's)."""

from __future__ import annotations

import json

from pushgate.store.ab_test_rows import Split
from pushgate.store.models import Counts, Notification
from pushgate.store.sqlite.connection import SQLiteConnections
from pushgate.store.sqlite.segments import next_audience_rows
from pushgate.store.variant_counts import variant_counts

_STATES = ("accepted", "failed", "gone", "capped", "cancelled")


class AbTestVerbs(SQLiteConnections):
    async def expand_audience_split(
        self,
        notification: Notification,
        limit: int,
        split: Split,
        due: tuple[float, float],
        held_due_at: float,
    ) -> int:
        """Turn the next `limit` subscribers into pending deliveries, resumably: those `split`
        gives a variant are due at `due` = (due time, end of life), the others are held (due
        at `held_due_at`, no variant). `split(before, count)` is told how many subscribers
        were expanded before this batch. Returns how many were read."""
        async with self._transaction(durable=False) as db:
            rows = await next_audience_rows(db, notification, "key", limit)
            if rows is None:
                return 0
            async with db.execute(
                "SELECT targeted FROM notifications WHERE key = ?", (notification.key,)
            ) as cur:
                row = await cur.fetchone()
            before = row[0] if row else 0
            variants = split(before, len(rows))
            at, expires_at = due
            values = [
                [r[0], v, held_due_at, None] if v is None else [r[0], v, at, expires_at]
                for r, v in zip(rows, variants, strict=True)
            ]
            await db.execute(
                "INSERT OR IGNORE INTO deliveries (notification_key, subscription_key, state, "
                "variant, next_attempt_at, expires_at) SELECT ?, value ->> 0, 'pending', "
                "value ->> 1, value ->> 2, value ->> 3 FROM json_each(?)",
                (notification.key, json.dumps(values)),
            )
            await db.execute(
                "UPDATE notifications SET cursor = COALESCE(?, cursor), targeted = targeted + ?, "
                "expanded = ? WHERE key = ?",
                (rows[-1][0] if rows else None, len(rows), len(rows) < limit, notification.key),
            )
        return len(rows)

    async def variant_counts(self, notification_key: int, variants: int) -> list[Counts]:
        """Each variant's counts, from its deliveries and their events (a held delivery has
        no variant until the winner's choice gives it the winner's)."""
        states = ", ".join(f"SUM(state = '{state}')" for state in _STATES)
        rows = await self._all(
            f"SELECT variant, COUNT(*), {states} FROM deliveries "
            "WHERE notification_key = ? AND variant IS NOT NULL GROUP BY variant",
            (notification_key,),
        )
        events = await self._all(
            "SELECT d.variant, e.kind, COUNT(*) FROM events e JOIN deliveries d "
            "ON d.notification_key = e.notification_key "
            "AND d.subscription_key = e.subscription_key "
            "WHERE e.notification_key = ? AND d.variant IS NOT NULL GROUP BY d.variant, e.kind",
            (notification_key,),
        )
        return variant_counts(variants, [tuple(r) for r in rows], [tuple(e) for e in events])

    async def record_winner(self, notification_key: int, winner: int, due_at: float) -> bool:
        """Record the test's winner and make the held deliveries due at `due_at` with its
        content, once: False (and nothing changes) when a winner was recorded before."""
        async with self._transaction() as db:
            cur = await db.execute(
                "UPDATE notifications SET winner = ? WHERE key = ? AND winner IS NULL",
                (winner, notification_key),
            )
            if cur.rowcount == 0:
                return False
            await db.execute(
                "UPDATE deliveries SET variant = ?, next_attempt_at = ? "
                "WHERE notification_key = ? AND state = 'pending' AND variant IS NULL",
                (winner, due_at, notification_key),
            )
        return True
