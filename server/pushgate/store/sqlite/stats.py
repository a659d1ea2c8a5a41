"""SQLite verbs and write helpers for the stats roll-ups (schema 15).

The helpers run inside the writes where the facts happen (subscribe, unsubscribe, gone
answers, events), in the same transaction, each one statement for a whole batch, so that the
roll-ups can never disagree with the counters they summarise."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import aiosqlite

from pushgate.store.sqlite.connection import SQLiteConnections
from pushgate.store.stats_rows import (
    DIMENSIONS,
    BreakdownCount,
    DeliveryBucket,
    SubscriberBucket,
    SubscriberRow,
    bucket_of,
    buckets,
    delivery_buckets,
)

_SPANS = "(SELECT 'day' AS span, ? AS bucket UNION ALL SELECT 'hour', ?) AS spans"
# A notification's roll-ups count per minute too (its delivery timeline): the same statement
# writes the three rows, so the minute costs no statement more per batch or event.
_DELIVERY_SPANS = (
    "(SELECT 'day' AS span, ? AS bucket UNION ALL SELECT 'hour', ? "
    "UNION ALL SELECT 'minute', ?) AS spans"
)
_DIMENSION_ROWS = " UNION ALL ".join(
    f"SELECT site_id, '{d}' AS dimension, COALESCE({d}, '') AS value FROM picked"
    for d in DIMENSIONS
)


async def count_subscriber_change(
    db: aiosqlite.Connection, change: str, where: str, params: Sequence[object], at: float
) -> None:
    """Add the subscriptions matching `where` to the `change` column (new, unsubscribed,
    gone) of their sites' day and hour roll-ups. Run before a delete, after an insert."""
    await db.execute(
        f"INSERT INTO subscriber_rollups (site_id, span, bucket, {change}) "
        f"SELECT s.site_id, spans.span, spans.bucket, COUNT(*) FROM subscriptions s, {_SPANS} "
        f"WHERE {where} GROUP BY 1, 2, 3 "
        f"ON CONFLICT DO UPDATE SET {change} = {change} + excluded.{change}",
        (*buckets(at), *params),
    )


async def count_breakdowns(
    db: aiosqlite.Connection, sign: int, where: str, params: Sequence[object]
) -> None:
    """Add (`sign` 1) or take away (-1) the subscriptions matching `where` (over `s`) in their
    sites' breakdown counters: after an insert, before a delete, around an update."""
    await db.execute(
        f"WITH picked AS (SELECT s.* FROM subscriptions s WHERE {where}) "
        "INSERT INTO subscriber_breakdowns (site_id, dimension, value, count) "
        f"SELECT site_id, dimension, value, ? * COUNT(*) FROM ({_DIMENSION_ROWS}) WHERE true "
        "GROUP BY 1, 2, 3 ON CONFLICT DO UPDATE SET count = count + excluded.count",
        (*params, sign),
    )


async def count_outcomes(
    db: aiosqlite.Connection, counts: Mapping[int, Mapping[str, int]], at: float
) -> None:
    """Add outcome counts per notification key ({"accepted": n, "failed": n, ...}) to the day,
    hour and minute roll-ups, in one statement for the whole batch."""
    rows = [
        [key, c.get("accepted", 0), c.get("failed", 0), c.get("gone", 0)]
        for key, c in counts.items()
        if any(c.values())
    ]
    if not rows:
        return
    await db.execute(
        "INSERT INTO delivery_rollups (site_id, span, bucket, notification_key, accepted, "
        "failed, gone) SELECT n.site_id, spans.span, spans.bucket, n.key, "
        "j.value ->> '$[1]', j.value ->> '$[2]', j.value ->> '$[3]' "
        "FROM json_each(?) j JOIN notifications n ON n.key = j.value ->> '$[0]', "
        f"{_DELIVERY_SPANS} "
        "WHERE true ON CONFLICT DO UPDATE SET accepted = accepted + excluded.accepted, "
        "failed = failed + excluded.failed, gone = gone + excluded.gone",
        (json.dumps(rows), *delivery_buckets(at)),
    )


async def count_outcome(
    db: aiosqlite.Connection, notification_key: int, kind: str, count: int, at: float
) -> None:
    """Add `count` to one counter (`kind` is validated by the caller) of one notification."""
    if count <= 0:
        return
    await db.execute(
        f"INSERT INTO delivery_rollups (site_id, span, bucket, notification_key, {kind}) "
        "SELECT n.site_id, spans.span, spans.bucket, n.key, ? FROM notifications n, "
        f"{_DELIVERY_SPANS} "
        f"WHERE n.key = ? ON CONFLICT DO UPDATE SET {kind} = {kind} + excluded.{kind}",
        (count, *delivery_buckets(at), notification_key),
    )


class StatsVerbs(SQLiteConnections):
    async def subscriber_rollups(
        self, site_id: str, span: str, start: float, end: float
    ) -> list[SubscriberBucket]:
        rows = await self._all(
            "SELECT bucket, SUM(new), SUM(unsubscribed), SUM(gone) FROM subscriber_rollups "
            "WHERE site_id = ? AND span = ? AND bucket >= ? AND bucket < ? "
            "GROUP BY bucket ORDER BY bucket",  # over the shards (one here: a single writer)
            (site_id, span, start, end),
        )
        return [SubscriberBucket(*r) for r in rows]

    async def subscriber_net_before(self, site_id: str, at: float) -> int:
        """Subscribers added less those gone before `at`: whole days, then the hours of
        `at`'s own day (the running total's start)."""
        day = bucket_of(at, "day")
        row = await self._one(
            "SELECT COALESCE(SUM(new - unsubscribed - gone), 0) FROM subscriber_rollups "
            "WHERE site_id = ? AND ((span = 'day' AND bucket < ?) "
            "OR (span = 'hour' AND bucket >= ? AND bucket < ?))",
            (site_id, day, day, at),
        )
        return int(row[0]) if row else 0

    async def delivery_rollups(
        self, site_id: str, span: str, start: float, end: float
    ) -> list[DeliveryBucket]:
        rows = await self._all(
            "SELECT bucket, SUM(accepted), SUM(delivered), SUM(clicked), SUM(dismissed), "
            "SUM(failed), SUM(gone) FROM delivery_rollups "
            "WHERE site_id = ? AND span = ? AND bucket >= ? AND bucket < ? "
            "GROUP BY bucket ORDER BY bucket",
            (site_id, span, start, end),
        )
        return [DeliveryBucket(*r) for r in rows]

    async def notification_rollups(self, notification_key: int) -> DeliveryBucket:
        """One notification's day roll-ups summed (bucket 0): its counters, as kept."""
        row = await self._one(
            "SELECT 0, COALESCE(SUM(accepted), 0), COALESCE(SUM(delivered), 0), "
            "COALESCE(SUM(clicked), 0), COALESCE(SUM(dismissed), 0), COALESCE(SUM(failed), 0), "
            "COALESCE(SUM(gone), 0) FROM delivery_rollups "
            "WHERE notification_key = ? AND span = 'day'",
            (notification_key,),
        )
        assert row is not None
        return DeliveryBucket(*row)

    async def subscriber_breakdowns(self, site_id: str) -> list[BreakdownCount]:
        rows = await self._all(
            "SELECT dimension, value, SUM(count) FROM subscriber_breakdowns WHERE site_id = ? "
            "GROUP BY dimension, value HAVING SUM(count) > 0 ORDER BY dimension, 3 DESC, value",
            (site_id,),
        )
        return [BreakdownCount(*r) for r in rows]

    async def search_subscribers(
        self, site_id: str, query: str, *, limit: int, after: int
    ) -> tuple[list[SubscriberRow], int | None]:
        """Subscriptions in key order after `after`; a non-empty `query` matches an id, an
        external id, a tag name, or `name=value` a tag's value; the key to continue from."""
        where, params = "s.site_id = ? AND s.key > ?", [site_id, after]
        if query:
            name, eq, value = query.partition("=")
            # Each tag branch reads its first page only (its index range, the first keys after
            # `after`), never every key that has the tag; an OR would scan the subscriptions.
            first = "AND subscription_key > ? ORDER BY subscription_key LIMIT ?"
            if eq and name.strip():  # "=x" is an id, not a tag
                where += (
                    " AND s.key IN (SELECT subscription_key FROM subscription_tags "
                    "WHERE site_id = ? AND name = ? AND ((kind = 'string' AND value = ?) "
                    f"OR (kind <> 'string' AND CAST(value AS TEXT) = ?)) {first})"
                )
                params += [site_id, name.strip(), value.strip(), value.strip(), after, limit + 1]
            else:
                where += (
                    " AND s.key IN (SELECT key FROM subscriptions WHERE id = ? "
                    "UNION SELECT key FROM subscriptions WHERE site_id = ? AND external_id = ? "
                    "UNION SELECT * FROM (SELECT subscription_key FROM subscription_tags "
                    f"WHERE site_id = ? AND name = ? {first}))"
                )
                params += [query, site_id, query, site_id, query, after, limit + 1]
        rows = await self._all(
            "SELECT key, id, external_id, tags, browser, push_service, language, country, "
            f"timezone, created_at, last_seen_at FROM subscriptions s WHERE {where} "
            "ORDER BY s.key LIMIT ?",
            (*params, limit + 1),
        )
        more = len(rows) > limit
        found = [_subscriber_row(r) for r in rows[:limit]]
        return found, (found[-1].key if more else None)

    async def take_job_lease(self, name: str, now: float, until: float) -> bool:
        """Hold the periodic job `name` until `until`, unless another holds it past `now`."""
        async with self._transaction() as db:
            async with db.execute(
                "SELECT value FROM meta WHERE key = ?", (f"lease:{name}",)
            ) as cur:
                row = await cur.fetchone()
            if row is not None and float(bytes(row[0]).decode()) > now:
                return False
            await db.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"lease:{name}", repr(until).encode())
            )
            return True

    async def prune_delivery_rows(self, cutoff: float, limit: int) -> int:
        """Delete up to `limit` deliveries and events of the oldest finished notification
        created before `cutoff` (marked pruned once none is left); when none is left, the hourly
        roll-ups older than `cutoff`. How many rows went; counters and day roll-ups stay."""
        async with self._transaction(durable=False) as db:
            async with db.execute(
                "SELECT key FROM notifications WHERE pruned = 0 AND created_at < ? "
                "AND status NOT IN ('scheduled', 'queued', 'sending') ORDER BY created_at LIMIT 1",
                (cutoff,),
            ) as cur:
                row = await cur.fetchone()
            removed = 0
            if row is None:  # the notifications are done: the old hours go, once a pass
                for table in ("subscriber_rollups", "delivery_rollups"):
                    cur = await db.execute(
                        f"DELETE FROM {table} WHERE span = 'hour' AND bucket < ?", (cutoff,)
                    )
                    removed += cur.rowcount
                return removed
            key = row[0]
            cur = await db.execute(
                "DELETE FROM events WHERE notification_key = ? AND subscription_key IN "
                "(SELECT subscription_key FROM events WHERE notification_key = ? LIMIT ?)",
                (key, key, limit),
            )
            removed += cur.rowcount
            cur = await db.execute(
                "DELETE FROM deliveries WHERE notification_key = ? AND subscription_key IN "
                "(SELECT subscription_key FROM deliveries WHERE notification_key = ? LIMIT ?)",
                (key, key, limit),
            )
            removed += cur.rowcount
            if cur.rowcount < limit:
                async with db.execute(
                    "SELECT 1 FROM events WHERE notification_key = ? LIMIT 1", (key,)
                ) as more:
                    if await more.fetchone() is None:
                        await db.execute(
                            "UPDATE notifications SET pruned = 1 WHERE key = ?", (key,)
                        )
            return removed + 1  # marking counts as work: the caller comes back for the next


def _subscriber_row(row: aiosqlite.Row) -> SubscriberRow:
    return SubscriberRow(
        row["key"],
        row["id"],
        row["external_id"],
        json.loads(row["tags"]),
        row["browser"],
        row["push_service"],
        row["language"],
        row["country"],
        row["timezone"],
        row["created_at"],
        row["last_seen_at"],
    )
