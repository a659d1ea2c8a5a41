"""Subscriptions with many gateways on one PostgreSQL database: two stores (two pools, as two
processes would have) racing on the same endpoint, the same site's cap, the same subscriber's
tags and the event secret, each ending as one writer would have left it; and a bulk import
that is one statement per chunk, with typed tag rows."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import asyncpg
import pytest

from pushgate.store import Store, open_store
from pushgate.store.base import SubscriptionLimitReached
from pushgate.store.models import NewSubscription
from pushgate.store.postgres.subscriptions import BULK_CHUNK_ROWS
from pushgate.subscribers import merge_user_tags
from tests.api.test_subscriptions import FCM, VALID_AUTH, VALID_P256DH

# Counts the INSERT statements (not rows) on the two tables a bulk import writes.
COUNT_STATEMENTS = """
CREATE TABLE statements (tbl TEXT NOT NULL);
CREATE FUNCTION count_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO statements VALUES (TG_TABLE_NAME); RETURN NULL; END $$;
CREATE TRIGGER counted AFTER INSERT ON subscriptions
    FOR EACH STATEMENT EXECUTE FUNCTION count_statement();
CREATE TRIGGER counted AFTER INSERT ON subscription_tags
    FOR EACH STATEMENT EXECUTE FUNCTION count_statement();
"""
# Holds a transaction after its statement on subscriptions while the test holds the lock.
BARRIER_LOCK = 4242
BARRIER = f"""
CREATE OR REPLACE FUNCTION wait_at_barrier() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_advisory_xact_lock_shared({BARRIER_LOCK}); RETURN NULL; END $$;
CREATE TRIGGER barrier AFTER {{event}} ON subscriptions
    FOR EACH STATEMENT EXECUTE FUNCTION wait_at_barrier();
"""


@pytest.fixture
async def two_stores(postgres_url: str) -> AsyncIterator[tuple[Store, Store]]:
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(open_store(postgres_url))
        second = await stack.enter_async_context(open_store(postgres_url))
        yield first, second


@pytest.fixture
async def db(postgres_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the test's own, to look at the tables and to hold locks."""
    conn = await asyncpg.connect(postgres_url)
    yield conn
    await conn.close()


def browser(name: str, **fields: Any) -> NewSubscription:
    return NewSubscription(f"{FCM}-{name}", VALID_P256DH, VALID_AUTH, **fields)


async def waiting_for_locks(db: asyncpg.Connection, count: int) -> None:
    for _ in range(500):
        waiting = await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if waiting >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} transactions never waited for a lock")


@asynccontextmanager
async def held_after(db: asyncpg.Connection, event: str, waiters: int) -> AsyncIterator[None]:
    """Every transaction that `event`s (INSERT, UPDATE) subscriptions waits after its statement
    until the block has started `waiters` of them and they all wait (each at this barrier or at
    a lock of the verb's own): so they overlap however the event loop orders them."""
    await db.execute(BARRIER.format(event=event))
    await db.execute("SELECT pg_advisory_lock($1)", BARRIER_LOCK)
    try:
        yield
        await waiting_for_locks(db, waiters)
    finally:
        await db.execute("SELECT pg_advisory_unlock($1)", BARRIER_LOCK)


async def test_same_endpoint_from_two_gateways_at_once_is_one_row(
    two_stores: tuple[Store, Store], db: asyncpg.Connection
) -> None:
    first, second = two_stores
    site, _ = await first.create_site("a", ["https://a.example"])
    new = browser("1", tags={"plan": "pro"})
    # Hold inserts back until both writes have looked for the endpoint and found nothing.
    async with db.transaction():
        await db.execute("LOCK TABLE subscriptions IN SHARE MODE")
        racing = asyncio.gather(
            first.upsert_subscription(site.id, new), second.upsert_subscription(site.id, new)
        )
        await waiting_for_locks(db, 2)
    (one, one_created), (other, other_created) = await racing
    assert sorted([one_created, other_created]) == [False, True]
    assert one.id == other.id
    assert await db.fetchval("SELECT count(*) FROM subscriptions") == 1
    assert await db.fetchval("SELECT count(*) FROM subscription_tags") == 1


async def test_the_cap_holds_for_subscribes_from_two_gateways_at_once(
    two_stores: tuple[Store, Store], db: asyncpg.Connection
) -> None:
    first, second = two_stores
    site, _ = await first.create_site("a", ["https://a.example"])

    async def subscribe(store: Store, name: str) -> bool:
        try:
            await store.upsert_subscription(site.id, browser(name), max_subscriptions=5)
        except SubscriptionLimitReached:
            return False
        return True

    async with held_after(db, "INSERT", waiters=20):
        racing = asyncio.gather(*(subscribe((first, second)[i % 2], str(i)) for i in range(20)))
    stored = await racing
    assert stored.count(True) == 5
    assert await db.fetchval("SELECT count(*) FROM subscriptions") == 5
    # A known endpoint is refreshed, not refused, at the cap.
    stored_one = (await first.list_subscriptions(site.id, limit=1, after=0))[0][0]
    new_keys = browser(stored_one.endpoint.rsplit("-", 1)[1], language="fr")
    refreshed, created = await second.upsert_subscription(site.id, new_keys, max_subscriptions=5)
    assert (refreshed.id, refreshed.language, created) == (stored_one.id, "fr", False)


async def test_the_cap_holds_for_bulk_imports_from_two_gateways_at_once(
    two_stores: tuple[Store, Store], db: asyncpg.Connection
) -> None:
    first, second = two_stores
    site, _ = await first.create_site("a", ["https://a.example"])

    async def bulk(store: Store, prefix: str) -> int | None:
        subs = [browser(f"{prefix}{i}") for i in range(4)]
        try:
            return await store.add_subscriptions_bulk(site.id, subs, max_subscriptions=5)
        except SubscriptionLimitReached:
            return None

    async with held_after(db, "INSERT", waiters=2):
        racing = asyncio.gather(bulk(first, "a"), bulk(second, "b"))
    results = await racing
    assert sorted(results, key=str) == [4, None]  # all or nothing, one of them
    assert await db.fetchval("SELECT count(*) FROM subscriptions") == 4


async def test_tag_merges_from_two_gateways_at_once_lose_nothing(
    two_stores: tuple[Store, Store], db: asyncpg.Connection
) -> None:
    first, second = two_stores
    site, _ = await first.create_site("a", ["https://a.example"])
    await first.upsert_subscription(site.id, browser("1", external_id="ada"))
    await first.upsert_subscription(site.id, browser("2", external_id="ada"))
    async with held_after(db, "UPDATE", waiters=20):
        racing = asyncio.gather(
            *(
                merge_user_tags((first, second)[i % 2], site.id, "ada", {f"t{i}": i})
                for i in range(20)
            )
        )
    assert await racing == [2] * 20
    page, _ = await first.list_subscriptions(site.id, limit=10, after=0)
    assert [s.tags for s in page] == [{f"t{i}": i for i in range(20)}] * 2


async def test_two_gateways_starting_together_share_one_event_secret(
    two_stores: tuple[Store, Store], db: asyncpg.Connection, postgres_url: str
) -> None:
    first, second = two_stores
    async with db.transaction():  # both look, then both insert
        await db.execute("LOCK TABLE meta IN SHARE MODE")
        racing = asyncio.gather(first.event_secret(), second.event_secret())
        await waiting_for_locks(db, 2)
    one, other = await racing
    assert one == other and len(one) == 32
    async with open_store(postgres_url) as later:
        assert await later.event_secret() == one


async def test_bulk_import_is_one_statement_per_chunk_with_typed_tag_rows(
    two_stores: tuple[Store, Store], db: asyncpg.Connection
) -> None:
    store, _ = two_stores
    site, _ = await store.create_site("a", ["https://a.example"])
    await store.upsert_subscription(site.id, browser("7", tags={"old": True}))  # kept as it is
    await db.execute(COUNT_STATEMENTS)
    subs = [
        browser(str(i), tags={"plan": "pro", "score": i + 0.5, "vip": i % 2 == 0})
        for i in range(10_000)
    ]
    assert await store.add_subscriptions_bulk(site.id, subs + subs[:3]) == 9_999
    chunks = math.ceil(len(subs + subs[:3]) / BULK_CHUNK_ROWS)
    counted = await db.fetch("SELECT tbl, count(*) FROM statements GROUP BY tbl ORDER BY tbl")
    assert [tuple(row) for row in counted] == [
        ("subscription_tags", chunks),
        ("subscriptions", chunks),
    ]
    assert BULK_CHUNK_ROWS >= 1_000  # bulk, not a round trip per row
    kinds = await db.fetch(
        "SELECT name, kind, count(*), count(str_value), min(num_value), max(num_value) "
        "FROM subscription_tags GROUP BY name, kind ORDER BY name"
    )
    assert [tuple(row) for row in kinds] == [
        ("old", "boolean", 1, 0, 1.0, 1.0),
        ("plan", "string", 9_999, 9_999, None, None),
        ("score", "number", 9_999, 0, 0.5, 9_999.5),  # "7" was there already
        ("vip", "boolean", 9_999, 0, 0.0, 1.0),
    ]
    page, _ = await store.list_subscriptions(site.id, limit=20_000, after=0)
    assert [s.endpoint for s in page] == [browser("7").endpoint] + [
        s.endpoint for s in subs if s.endpoint != browser("7").endpoint
    ]  # in the order given


async def test_every_tag_write_types_its_rows(
    two_stores: tuple[Store, Store], db: asyncpg.Connection
) -> None:
    store, _ = two_stores
    site, _ = await store.create_site("a", ["https://a.example"])
    tags: dict[str, Any] = {"s": "5", "n": 5, "x": -1.25, "t": True, "f": False}
    sub, _ = await store.upsert_subscription(site.id, browser("1", tags=tags, external_id="u"))
    assert sub.tags == tags
    assert await typed_rows(db) == {
        "f": ("boolean", None, 0.0),
        "n": ("number", None, 5.0),
        "s": ("string", "5", None),
        "t": ("boolean", None, 1.0),
        "x": ("number", None, -1.25),
    }
    await store.upsert_subscription(site.id, browser("1", tags={"s": "6"}))  # replaces them
    assert await typed_rows(db) == {"s": ("string", "6", None)}
    await merge_user_tags(store, site.id, "u", {"s": None, "on": True})
    assert await typed_rows(db) == {"on": ("boolean", None, 1.0)}
    assert await store.remove_subscription(site.id, sub.id)
    assert await db.fetchval("SELECT count(*) FROM subscription_tags") == 0


async def typed_rows(db: asyncpg.Connection) -> dict[str, tuple[Any, ...]]:
    rows = await db.fetch("SELECT name, kind, str_value, num_value FROM subscription_tags")
    return {row["name"]: (row["kind"], row["str_value"], row["num_value"]) for row in rows}
