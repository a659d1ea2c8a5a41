"""PostgreSQL verbs and write helpers for the stats roll-ups (mirrors store/sqlite/stats.py).

Each helper is one statement, run inside the write where the facts happen. Many gateways write
at once here, so a subscriber change counts the rows its own statement deleted or locked (a
CTE over DELETE … RETURNING or SELECT … FOR UPDATE), never rows another transaction may be
removing, and every upsert touches its roll-up rows in key order (no deadlock between two)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import asyncpg

from pushgate.store.postgres.connection import PostgresConnections
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

SHARDS = 16  # subscriber roll-up rows per site and bucket (value): concurrent writers spread
_DIMENSION_VALUES = ", ".join(f"('{d}', COALESCE(p.{d}, ''))" for d in DIMENSIONS)


async def count_subscribers(
    conn: asyncpg.Connection,
    picked: str,
    params: Sequence[object],
    *,
    sign: int,
    change: str | None = None,
    at: float = 0.0,
) -> list[int]:
    """Run `picked` (SQL returning subscription rows: an INSERT or DELETE … RETURNING *, a
    SELECT … FOR UPDATE, with placeholders $1…$k for `params`), add its rows times `sign` to
    their sites' breakdown counters and, with `change` (new, unsubscribed, gone), to that
    column of the day and hour roll-ups of `at`, in one statement; the keys of its rows."""
    n = len(params)
    counted = (
        f", changed AS (INSERT INTO subscriber_rollups (site_id, span, bucket, shard, {change}) "
        f"SELECT p.site_id, spans.span, spans.bucket, p.key % {SHARDS}, COUNT(*) FROM picked p, "
        f"(VALUES ('day', ${n + 2}::bigint), ('hour', ${n + 3}::bigint)) AS spans(span, bucket) "
        "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 "
        "ON CONFLICT (site_id, span, bucket, shard) DO UPDATE "
        f"SET {change} = subscriber_rollups.{change} + excluded.{change})"
        if change
        else ""
    )
    extra = list(buckets(at)) if change else []
    keys: list[int] = await conn.fetchval(
        f"WITH picked AS ({picked}){counted}, broken AS ("
        "INSERT INTO subscriber_breakdowns (site_id, dimension, value, shard, count) "
        f"SELECT p.site_id, d.dimension, d.value, p.key % {SHARDS}, ${n + 1}::bigint * COUNT(*) "
        f"FROM picked p CROSS JOIN LATERAL (VALUES {_DIMENSION_VALUES}) AS d(dimension, value) "
        "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 "
        "ON CONFLICT (site_id, dimension, value, shard) DO UPDATE "
        "SET count = subscriber_breakdowns.count + excluded.count) "
        "SELECT COALESCE(array_agg(key), '{}') FROM picked",
        *params,
        sign,
        *extra,
    )
    return keys


async def count_outcomes(
    conn: asyncpg.Connection, counts: Mapping[int, Mapping[str, int]], at: float
) -> None:
    """Add outcome counts per notification key to the day, hour and minute roll-ups, in one
    statement (the minute is the delivery timeline's)."""
    keys = sorted(k for k, c in counts.items() if any(c.values()))
    if not keys:
        return
    await conn.execute(
        "INSERT INTO delivery_rollups (site_id, span, bucket, notification_key, accepted, "
        "failed, gone) SELECT n.site_id, spans.span, spans.bucket, n.key, b.a, b.f, b.g "
        "FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[]) AS b(k, a, f, g) "
        "JOIN notifications n ON n.key = b.k, "
        "(VALUES ('day', $5::bigint), ('hour', $6::bigint), ('minute', $7::bigint)) "
        "AS spans(span, bucket) "
        "ORDER BY n.site_id, spans.span, spans.bucket, n.key "
        "ON CONFLICT (site_id, span, bucket, notification_key) DO UPDATE SET "
        "accepted = delivery_rollups.accepted + excluded.accepted, "
        "failed = delivery_rollups.failed + excluded.failed, "
        "gone = delivery_rollups.gone + excluded.gone",
        keys,
        [counts[k].get("accepted", 0) for k in keys],
        [counts[k].get("failed", 0) for k in keys],
        [counts[k].get("gone", 0) for k in keys],
        *delivery_buckets(at),
    )


async def add_counted(
    conn: asyncpg.Connection, notification_key: int, kind: str, count: int, at: float
) -> None:
    """notifications.`kind` += count and the same to its roll-ups, in one statement (one round
    trip: the common outcome write pays for the roll-ups with no extra one)."""
    await conn.execute(
        f"WITH n AS (UPDATE notifications SET {kind} = {kind} + $1 WHERE key = $2 "
        "RETURNING site_id, key) "
        f"INSERT INTO delivery_rollups (site_id, span, bucket, notification_key, {kind}) "
        "SELECT n.site_id, spans.span, spans.bucket, n.key, $1 FROM n, "
        "(VALUES ('day', $3::bigint), ('hour', $4::bigint), ('minute', $5::bigint)) "
        "AS spans(span, bucket) ORDER BY spans.span "
        "ON CONFLICT (site_id, span, bucket, notification_key) DO UPDATE "
        f"SET {kind} = delivery_rollups.{kind} + excluded.{kind}",
        count,
        notification_key,
        *delivery_buckets(at),
    )


class StatsVerbs(PostgresConnections):
    async def subscriber_rollups(
        self, site_id: str, span: str, start: float, end: float
    ) -> list[SubscriberBucket]:
        rows = await self._all(
            "SELECT bucket, SUM(new), SUM(unsubscribed), SUM(gone) FROM subscriber_rollups "
            "WHERE site_id = $1 AND span = $2 AND bucket >= $3 AND bucket < $4 "
            "GROUP BY bucket ORDER BY bucket",
            site_id,
            span,
            start,
            end,
        )
        return [SubscriberBucket(*(int(v) for v in r)) for r in rows]

    async def subscriber_net_before(self, site_id: str, at: float) -> int:
        day = bucket_of(at, "day")
        total = await self._one(
            "SELECT COALESCE(SUM(new - unsubscribed - gone), 0) FROM subscriber_rollups "
            "WHERE site_id = $1 AND ((span = 'day' AND bucket < $2) "
            "OR (span = 'hour' AND bucket >= $2 AND bucket < $3))",
            site_id,
            day,
            at,
        )
        return int(total[0]) if total else 0

    async def delivery_rollups(
        self, site_id: str, span: str, start: float, end: float
    ) -> list[DeliveryBucket]:
        rows = await self._all(
            "SELECT bucket, SUM(accepted), SUM(delivered), SUM(clicked), SUM(dismissed), "
            "SUM(failed), SUM(gone) FROM delivery_rollups "
            "WHERE site_id = $1 AND span = $2 AND bucket >= $3 AND bucket < $4 "
            "GROUP BY bucket ORDER BY bucket",
            site_id,
            span,
            start,
            end,
        )
        return [DeliveryBucket(*(int(v) for v in r)) for r in rows]

    async def notification_rollups(self, notification_key: int) -> DeliveryBucket:
        row = await self._one(
            "SELECT 0, COALESCE(SUM(accepted), 0), COALESCE(SUM(delivered), 0), "
            "COALESCE(SUM(clicked), 0), COALESCE(SUM(dismissed), 0), COALESCE(SUM(failed), 0), "
            "COALESCE(SUM(gone), 0) FROM delivery_rollups "
            "WHERE notification_key = $1 AND span = 'day'",
            notification_key,
        )
        assert row is not None
        return DeliveryBucket(*(int(v) for v in row))

    async def subscriber_breakdowns(self, site_id: str) -> list[BreakdownCount]:
        rows = await self._all(
            "SELECT dimension, value, SUM(count) FROM subscriber_breakdowns WHERE site_id = $1 "
            "GROUP BY dimension, value HAVING SUM(count) > 0 ORDER BY dimension, 3 DESC, value",
            site_id,
        )
        return [BreakdownCount(r[0], r[1], int(r[2])) for r in rows]

    async def search_subscribers(
        self, site_id: str, query: str, *, limit: int, after: int
    ) -> tuple[list[SubscriberRow], int | None]:
        where, params = "s.site_id = $1 AND s.key > $2", [site_id, after]
        if query:
            name, eq, value = query.partition("=")
            # Each tag branch reads its first page only (the first keys after `after`, $2;
            # the page size is the last parameter), never every key that has the tag.
            if eq and name.strip():  # "=x" is an id, not a tag
                where += (
                    " AND s.key IN (SELECT subscription_key FROM subscription_tags "
                    "WHERE site_id = $1 AND name = $3 AND ((kind = 'string' AND str_value = $4) "
                    "OR (kind <> 'string' AND num_value::text = $4)) AND subscription_key > $2 "
                    "ORDER BY subscription_key LIMIT $5)"
                )
                params += [name.strip(), value.strip()]
            else:
                where += (
                    " AND s.key IN (SELECT key FROM subscriptions WHERE id = $3 "
                    "UNION SELECT key FROM subscriptions WHERE site_id = $1 AND external_id = $3 "
                    "UNION (SELECT subscription_key FROM subscription_tags "
                    "WHERE site_id = $1 AND name = $3 AND subscription_key > $2 "
                    "ORDER BY subscription_key LIMIT $4))"
                )
                params += [query]
        rows = await self._all(
            "SELECT key, id, external_id, tags, browser, push_service, language, country, "
            f"timezone, created_at, last_seen_at FROM subscriptions s WHERE {where} "
            f"ORDER BY s.key LIMIT ${len(params) + 1}",
            *params,
            limit + 1,
        )
        more = len(rows) > limit
        found = [_subscriber_row(r) for r in rows[:limit]]
        return found, (found[-1].key if more else None)

    async def take_job_lease(self, name: str, now: float, until: float) -> bool:
        async with self._transaction() as db:
            taken = await db.fetchval(
                "INSERT INTO meta VALUES ($1, convert_to($2, 'UTF8')) ON CONFLICT (key) DO UPDATE "
                "SET value = excluded.value "
                "WHERE convert_from(meta.value, 'UTF8')::float8 <= $3 RETURNING 1",
                f"lease:{name}",
                repr(until),
                now,
            )
        return taken is not None

    async def prune_delivery_rows(self, cutoff: float, limit: int) -> int:
        async with self._transaction(durable=False) as db:
            key = await db.fetchval(
                "SELECT key FROM notifications WHERE NOT pruned AND created_at < $1 "
                "AND status NOT IN ('scheduled', 'queued', 'sending') ORDER BY created_at LIMIT 1 "
                "FOR UPDATE SKIP LOCKED",
                cutoff,
            )
            removed = 0
            if key is None:  # the notifications are done: the old hours go, once a pass
                for table in ("subscriber_rollups", "delivery_rollups"):
                    done = await db.execute(
                        f"DELETE FROM {table} WHERE span = 'hour' AND bucket < $1", cutoff
                    )
                    removed += _count(done)
                return removed
            for table in ("events", "deliveries"):
                done = await db.execute(
                    f"DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table} "
                    "WHERE notification_key = $1 LIMIT $2))",
                    key,
                    limit,
                )
                removed += _count(done)
            left = await db.fetchval(
                "SELECT EXISTS (SELECT 1 FROM deliveries WHERE notification_key = $1) "
                "OR EXISTS (SELECT 1 FROM events WHERE notification_key = $1)",
                key,
            )
            if not left:
                await db.execute("UPDATE notifications SET pruned = TRUE WHERE key = $1", key)
            return removed + 1  # marking counts as work: the caller comes back for the next


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


def _subscriber_row(row: asyncpg.Record) -> SubscriberRow:
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
