"""PostgreSQL verbs for subscriptions: upsert, bulk import, edits, listing, removal (mirrors
store/sqlite/subscriptions.py).

Many gateways write here at once, where SQLite has one writer. So: a capped insert locks its
site's row first (capped inserts of one site take turns, and each counts what the one before
committed); an edit locks the rows it reads before writing them back; and a write that lost a
race to another process (the same endpoint inserted, a deadlock) runs again, to the answer the
single writer would have given had the other process gone first."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import asyncpg

from pushgate.audience.fields import push_service_of
from pushgate.store.base import SiteGone, SubscriptionLimitReached
from pushgate.store.models import NewSubscription, Subscription, SubscriptionEdit
from pushgate.store.postgres.connection import PostgresConnections
from pushgate.store.postgres.stats import count_subscribers
from pushgate.store.postgres.tag_index import INSERT_TAGS, TAG_ROWS, reindex_tags

BULK_CHUNK_ROWS = 5_000  # rows per INSERT of a bulk import: one statement, about 1 MB of values
RACE_ATTEMPTS = 3  # a write that lost a race runs again; losing three in a row is an error

_SUB_COLUMNS = (
    "id, site_id, endpoint, p256dh, auth, timezone, language, tags, external_id, browser, "
    "created_at, last_seen_at"
)
_BULK_INSERT = (
    "INSERT INTO subscriptions (id, site_id, endpoint, p256dh, auth, timezone, language, tags, "
    "external_id, browser, created_at, last_seen_at, country, push_service) "
    "SELECT r.id, $1, r.endpoint, r.p256dh, r.auth, r.timezone, r.language, r.tags, "
    "r.external_id, r.browser, $2, $2, r.country, r.push_service "
    "FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], "
    "$9::text[], $10::text[], $11::text[], $12::text[], $13::text[]) AS r(id, endpoint, "
    "p256dh, auth, timezone, language, tags, external_id, browser, country, push_service) "
    "ON CONFLICT DO NOTHING RETURNING key, site_id, tags"  # known endpoints are kept
)
# One statement per chunk: the subscriptions, and with tags their tag rows too; the new
# keys, for the roll-ups.
_BULK = "WITH s AS (" + _BULK_INSERT + ") SELECT array_agg(key) FROM s"
_BULK_TAGGED = (
    "WITH s AS (" + _BULK_INSERT + "), t AS (" + INSERT_TAGS + TAG_ROWS
    + "FROM s, jsonb_each(s.tags::jsonb) j WHERE s.tags <> '{}') SELECT array_agg(key) FROM s"
)  # fmt: skip
_PICK_KEYS = "SELECT * FROM subscriptions WHERE key = ANY($1::bigint[])"

T = TypeVar("T")


class _LostRace(Exception):
    """Another process changed the row between two statements of this write."""


_RACES = (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError, _LostRace)


class SubscriptionVerbs(PostgresConnections):
    async def upsert_subscription(
        self, site_id: str, sub: NewSubscription, *, max_subscriptions: int = 0
    ) -> tuple[Subscription, bool]:
        """Store a new endpoint or refresh a known one; a new one past a nonzero
        `max_subscriptions` raises SubscriptionLimitReached (counted inside the write)."""
        now = time.time()

        async def write(db: asyncpg.Connection) -> tuple[Subscription, bool]:
            key, created = await _upsert(db, site_id, sub, now, max_subscriptions)
            row = await db.fetchrow(f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE key = $1", key)
            return _subscription(row), created

        try:
            return await self._write_again_if_raced(write)
        except asyncpg.ForeignKeyViolationError as exc:  # the site's row is gone
            raise SiteGone(site_id) from exc

    async def add_subscriptions_bulk(
        self, site_id: str, subs: Sequence[NewSubscription], *, max_subscriptions: int = 0
    ) -> int:
        """Insert many new subscriptions at once (imports, benchmarks); known endpoints are kept.

        All or nothing: past a nonzero `max_subscriptions`, SubscriptionLimitReached, none stored.
        """
        now = time.time()
        chunks = [subs[i : i + BULK_CHUNK_ROWS] for i in range(0, len(subs), BULK_CHUNK_ROWS)]

        async def write(db: asyncpg.Connection) -> int:
            if max_subscriptions:
                await _lock_site(db, site_id)
            added = 0
            for chunk in chunks:
                sql = _BULK_TAGGED if any(s.tags for s in chunk) else _BULK
                keys = await db.fetchval(sql, site_id, now, *_bulk_columns(chunk)) or []
                if keys:
                    await count_subscribers(db, _PICK_KEYS, [keys], sign=1, change="new", at=now)
                added += len(keys)
            if max_subscriptions and await _at_least(db, site_id, max_subscriptions + 1):
                raise SubscriptionLimitReached(site_id)
            return added

        return await self._write_again_if_raced(write)

    async def remove_subscription_by_endpoint(self, site_id: str, endpoint: str) -> bool:
        return await self._unsubscribe(site_id, "endpoint", endpoint)

    async def remove_subscription(self, site_id: str, subscription_id: str) -> bool:
        return await self._unsubscribe(site_id, "id", subscription_id)

    async def _unsubscribe(self, site_id: str, column: str, value: str) -> bool:
        """Delete the site's subscription whose `column` is `value`, counted as unsubscribed
        by the same statement."""
        async with self._transaction() as db:
            removed = await count_subscribers(
                db,
                f"DELETE FROM subscriptions WHERE site_id = $1 AND {column} = $2 RETURNING *",
                [site_id, value],
                sign=-1,
                change="unsubscribed",
                at=time.time(),
            )
        return bool(removed)

    async def list_subscriptions(
        self, site_id: str, *, limit: int, after: int
    ) -> tuple[list[Subscription], int | None]:
        rows = await self._all(
            f"SELECT {_SUB_COLUMNS}, key FROM subscriptions WHERE site_id = $1 AND key > $2 "
            "ORDER BY key LIMIT $3",
            site_id,
            after,
            limit + 1,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return [_subscription(r) for r in rows], (rows[-1]["key"] if more else None)

    async def update_subscription(
        self, site_id: str, subscription_id: str, edit: SubscriptionEdit
    ) -> Subscription | None:
        """Apply `edit` to one subscription inside one write; None if the site has no such id."""
        async with self._transaction() as db:
            edited = await _edit_subscriptions(db, "id", site_id, subscription_id, edit)
        return edited[0] if edited else None

    async def update_user_subscriptions(
        self, site_id: str, external_id: str, edit: SubscriptionEdit
    ) -> int:
        """Apply `edit` to every subscription of one external id inside one write; how many."""
        async with self._transaction() as db:
            return len(await _edit_subscriptions(db, "external_id", site_id, external_id, edit))

    async def _write_again_if_raced(self, write: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run `write` in a transaction; run it again, from the state the other process left,
        when a concurrent one won a race (a unique key, a deadlock, a row moved)."""
        for attempt in range(1, RACE_ATTEMPTS + 1):
            try:
                async with self._transaction() as db:
                    return await write(db)
            except _RACES:
                if attempt == RACE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")


async def _upsert(
    db: asyncpg.Connection, site_id: str, sub: NewSubscription, now: float, cap: int
) -> tuple[int, bool]:
    """The subscription's key, and whether it is new."""
    existing = await _existing_key(db, site_id, sub)
    if existing is None and cap:
        await _lock_site(db, site_id)
        existing = await _existing_key(db, site_id, sub)  # committed while we waited
    if existing is None:
        if cap and await _at_least(db, site_id, cap):
            raise SubscriptionLimitReached(site_id)
        key = await _insert(db, site_id, sub, now)
        if key is not None:
            return key, True
        existing = await _subscription_key(db, site_id, sub.endpoint)  # inserted meanwhile
        if existing is None:
            raise _LostRace(sub.endpoint)
    await _refresh(db, existing, sub, now)
    return existing, False


async def _existing_key(db: asyncpg.Connection, site_id: str, sub: NewSubscription) -> int | None:
    existing = await _subscription_key(db, site_id, sub.endpoint)
    if existing is None and sub.old_endpoint:
        existing = await _subscription_key(db, site_id, sub.old_endpoint)
    return existing


async def _insert(
    db: asyncpg.Connection, site_id: str, sub: NewSubscription, now: float
) -> int | None:
    """The new row's key; None if another process inserted the endpoint first."""
    inserted = await count_subscribers(  # and counted as new, in the same statement
        db,
        "INSERT INTO subscriptions (id, site_id, endpoint, p256dh, auth, timezone, language, "
        "tags, external_id, browser, created_at, last_seen_at, country, push_service) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13) "
        "ON CONFLICT (site_id, endpoint) DO NOTHING RETURNING *",
        [
            uuid.uuid4().hex,
            site_id,
            sub.endpoint,
            sub.p256dh,
            sub.auth,
            sub.timezone,
            sub.language,
            json.dumps(sub.tags or {}),
            sub.external_id,
            sub.browser,
            now,
            sub.country,
            push_service_of(sub.endpoint),
        ],
        sign=1,
        change="new",
        at=now,
    )
    key = inserted[0] if inserted else None
    if key is not None and sub.tags:
        await reindex_tags(db, [key])
    return key


async def _refresh(db: asyncpg.Connection, key: int, sub: NewSubscription, now: float) -> None:
    # Its breakdown values may change: out before (the row locked), in after.
    await count_subscribers(db, _PICK_KEYS + " FOR UPDATE", [[key]], sign=-1)
    await db.execute(
        "UPDATE subscriptions SET endpoint = $1, push_service = $2, p256dh = $3, auth = $4, "
        "timezone = COALESCE($5, timezone), language = COALESCE($6, language), "
        "tags = COALESCE($7, tags), "
        "external_id = CASE WHEN $8 THEN NULL ELSE COALESCE($9, external_id) END, "
        "browser = COALESCE($10, browser), country = COALESCE($11, country), "
        "last_seen_at = $12 WHERE key = $13",
        sub.endpoint,
        push_service_of(sub.endpoint),
        sub.p256dh,
        sub.auth,
        sub.timezone,
        sub.language,
        None if sub.tags is None else json.dumps(sub.tags),
        sub.clear_external_id,
        sub.external_id,
        sub.browser,
        sub.country,
        now,
        key,
    )
    if sub.tags is not None:
        await reindex_tags(db, [key])
    await count_subscribers(db, _PICK_KEYS, [[key]], sign=1)


def _bulk_columns(subs: Sequence[NewSubscription]) -> list[list[str | None]]:
    """The values of `_BULK_INSERT`'s arrays, $3 to $13, one list per column."""
    return [
        [uuid.uuid4().hex for _ in subs],
        [s.endpoint for s in subs],
        [s.p256dh for s in subs],
        [s.auth for s in subs],
        [s.timezone for s in subs],
        [s.language for s in subs],
        [json.dumps(s.tags) if s.tags else "{}" for s in subs],
        [s.external_id for s in subs],
        [s.browser for s in subs],
        [s.country for s in subs],
        [push_service_of(s.endpoint) for s in subs],
    ]


def _subscription(row: asyncpg.Record) -> Subscription:
    # A copy of the SQLite decoder, typed for asyncpg's records.
    return Subscription(
        row["id"],
        row["site_id"],
        row["endpoint"],
        row["p256dh"],
        row["auth"],
        row["timezone"],
        row["language"],
        json.loads(row["tags"]),
        row["external_id"],
        row["browser"],
        row["created_at"],
        row["last_seen_at"],
    )


async def _edit_subscriptions(
    db: asyncpg.Connection, column: str, site_id: str, value: str, edit: SubscriptionEdit
) -> list[Subscription]:
    """Read and lock the site's subscriptions whose `column` is `value`, apply `edit` to each,
    then write their tags, external id, time zone and language: all edits run before the
    first write, and a concurrent edit of the same rows waits, so neither loses the other's."""
    rows = await db.fetch(
        f"SELECT {_SUB_COLUMNS}, key FROM subscriptions WHERE site_id = $1 AND {column} = $2 "
        "ORDER BY key FOR UPDATE",
        site_id,
        value,
    )
    edited = [edit(_subscription(row)) for row in rows]
    if not edited:
        return edited
    keys = [row["key"] for row in rows]
    await count_subscribers(db, _PICK_KEYS, [keys], sign=-1)  # time zone, language may change
    await db.execute(
        "UPDATE subscriptions SET tags = r.tags, external_id = r.external_id, "
        "timezone = r.timezone, language = r.language "
        "FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) "
        "AS r(id, tags, external_id, timezone, language) "
        "WHERE subscriptions.site_id = $1 AND subscriptions.id = r.id",
        site_id,
        [s.id for s in edited],
        [json.dumps(s.tags) for s in edited],
        [s.external_id for s in edited],
        [s.timezone for s in edited],
        [s.language for s in edited],
    )
    await reindex_tags(db, keys)
    await count_subscribers(db, _PICK_KEYS, [keys], sign=1)
    return edited


async def _subscription_key(db: asyncpg.Connection, site_id: str, endpoint: str) -> int | None:
    key: int | None = await db.fetchval(
        "SELECT key FROM subscriptions WHERE site_id = $1 AND endpoint = $2", site_id, endpoint
    )
    return key


async def _lock_site(db: asyncpg.Connection, site_id: str) -> None:
    """Capped inserts of one site take turns until commit. NO KEY UPDATE: inserts that only
    check the foreign key (a share lock on the key) are not held up."""
    await db.execute("SELECT 1 FROM sites WHERE id = $1 FOR NO KEY UPDATE", site_id)


async def _at_least(db: asyncpg.Connection, site_id: str, count: int) -> bool:
    # Stops counting at `count`, so a cap of N costs at most N index entries, not the whole site.
    found = await db.fetchval(
        "SELECT COUNT(*) FROM (SELECT 1 FROM subscriptions WHERE site_id = $1 LIMIT $2) s",
        site_id,
        count,
    )
    return bool(found >= count)


def _row_count(status: str) -> int:
    """The row count of a command status such as "DELETE 1"."""
    return int(status.rsplit(" ", 1)[-1])
