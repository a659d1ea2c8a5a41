"""Group commit of subscribes on SQLite (issue #14): concurrent upserts share durable
transactions, each caller is answered only once the transaction holding its upsert committed,
a store that cannot write answers every caller of the batch, and one bad row fails alone."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator
from pathlib import Path
from typing import Any

import pytest

from pushgate.store import StoreUnavailable, open_store
from pushgate.store.base import SubscriptionLimitReached
from pushgate.store.models import NewSubscription
from pushgate.store.sqlite.store import SQLiteStore
from pushgate.store.stats_rows import DAY_SECONDS, bucket_of
from tests.api.test_subscriptions import VALID_AUTH, VALID_P256DH

FCM = "https://fcm.googleapis.com/fcm/send/group"
MOZILLA = "https://updates.push.services.mozilla.com/wpush/v2/group"


class Writer:
    """The store's writer connection, recording each COMMIT once it returned, and able to
    hold a BEGIN at a gate or fail a statement: what the store cannot tell from the real one."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.events: list[str] = []
        self.gate: asyncio.Event | None = None  # BEGIN waits for it while set
        self.fail: Callable[[str, Any], Exception | None] = lambda sql, params: None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def execute(self, sql: str, params: Any = ()) -> Statement:
        return Statement(self._execute(sql, params))

    async def _execute(self, sql: str, params: Any) -> Any:
        if sql.startswith("BEGIN") and self.gate is not None:
            await self.gate.wait()
        self._raise_if_failing(sql, params)
        cursor = await self._real.execute(sql, params)
        if sql == "COMMIT":
            self.events.append("commit")
        return cursor

    async def executemany(self, sql: str, rows: Any) -> Any:
        rows = list(rows)
        self._raise_if_failing(sql, rows)
        return await self._real.executemany(sql, rows)

    async def execute_fetchall(self, sql: str, params: Any = ()) -> Any:
        self._raise_if_failing(sql, params)
        return await self._real.execute_fetchall(sql, params)

    def _raise_if_failing(self, sql: str, params: Any) -> None:
        error = self.fail(sql, params)
        if error is not None:
            raise error


class Statement:
    """Awaited, or entered with `async with`, as aiosqlite's own `execute` is."""

    def __init__(self, running: Coroutine[Any, Any, Any]) -> None:
        self._running = running
        self._cursor: Any = None

    def __await__(self) -> Generator[Any, None, Any]:
        return self._running.__await__()

    async def __aenter__(self) -> Any:
        self._cursor = await self._running
        return self._cursor

    async def __aexit__(self, *exc: object) -> None:
        await self._cursor.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with open_store(f"sqlite:///{tmp_path / 'pushgate.db'}") as store:
        assert isinstance(store, SQLiteStore)
        yield store


def writer_of(store: SQLiteStore) -> Writer:
    writer = Writer(store._writer)
    store._writer = writer  # type: ignore[assignment]
    return writer


def browser(endpoint: str, **fields: Any) -> NewSubscription:
    return NewSubscription(endpoint, VALID_P256DH, VALID_AUTH, **fields)


def committed(path: Path, endpoint: str) -> bool:
    """Whether another connection sees the endpoint: only a committed write is visible."""
    with sqlite3.connect(path) as db:
        found = db.execute("SELECT 1 FROM subscriptions WHERE endpoint = ?", (endpoint,))
        return found.fetchone() is not None


async def until(ready: Callable[[], bool]) -> None:
    """Let the loop run until `ready()` (bounded): requests reaching the queue."""
    for _ in range(10_000):
        if ready():
            return
        await asyncio.sleep(0)
    raise AssertionError("never ready")


async def test_concurrent_upserts_share_commits_and_each_answer_follows_its_commit(
    store: SQLiteStore, tmp_path: Path
) -> None:
    site, _ = await store.create_site("news", ["https://news.example"])
    writer = writer_of(store)
    endpoints = [f"{FCM}-{i}" for i in range(200)]

    async def subscribe(endpoint: str) -> None:
        subscription, created = await store.upsert_subscription(site.id, browser(endpoint))
        assert created and subscription.endpoint == endpoint
        writer.events.append("answer")
        assert committed(tmp_path / "pushgate.db", endpoint), "answered before its commit"

    await asyncio.gather(*(subscribe(e) for e in endpoints))
    commits = writer.events.count("commit")
    assert writer.events.count("answer") == 200
    assert 1 <= commits < 20, f"{commits} transactions for 200 concurrent subscribes"
    assert writer.events[0] == "commit"
    page, _ = await store.list_subscriptions(site.id, limit=500, after=0)
    assert sorted(s.endpoint for s in page) == sorted(endpoints)
    assert len({s.id for s in page}) == 200


async def test_a_batch_keeps_the_tags_rollups_and_breakdowns_of_one_by_one_writes(
    store: SQLiteStore,
) -> None:
    """New, refreshed, moved (old_endpoint) and the same endpoint twice, in one batch."""
    site, _ = await store.create_site("news", ["https://news.example"])
    first, _ = await store.upsert_subscription(
        site.id, browser(f"{FCM}-a", language="en", tags={"plan": "free"})
    )
    moved, _ = await store.upsert_subscription(site.id, browser(f"{FCM}-old", language="de"))
    writer = writer_of(store)
    writer.gate = asyncio.Event()
    hold = asyncio.ensure_future(store.upsert_subscription(site.id, browser(f"{FCM}-hold")))
    await until(lambda: store._committer is not None and not store._upserts)  # held at BEGIN
    calls = [
        store.upsert_subscription(site.id, browser(f"{FCM}-a", tags={"plan": "pro"})),
        store.upsert_subscription(site.id, browser(f"{MOZILLA}-b", browser="firefox")),
        store.upsert_subscription(
            site.id, browser(f"{MOZILLA}-new", old_endpoint=f"{FCM}-old", language="fr")
        ),
        store.upsert_subscription(site.id, browser(f"{MOZILLA}-b", language="it", tags={"n": 2})),
    ]
    answers = asyncio.ensure_future(asyncio.gather(*calls))
    await until(lambda: len(store._upserts) == 4)
    writer.gate.set()
    await hold
    (a, a_new), (b, b_new), (m, m_new), (b2, b2_new) = await answers
    assert writer.events.count("commit") == 2  # the held one, then the four together
    assert (a.id, a_new, a.tags, a.language) == (first.id, False, {"plan": "pro"}, "en")
    assert (b_new, b2_new, b2.id, b2.browser) == (True, False, b.id, "firefox")
    assert (b2.language, b2.tags) == ("it", {"n": 2})
    assert (m.id, m_new, m.endpoint, m.language) == (moved.id, False, f"{MOZILLA}-new", "fr")

    page, _ = await store.list_subscriptions(site.id, limit=10, after=0)
    assert sorted(s.endpoint for s in page) == sorted(
        [f"{FCM}-a", f"{FCM}-hold", f"{MOZILLA}-b", f"{MOZILLA}-new"]
    )
    day = bucket_of(time.time(), "day")
    (rollup,) = await store.subscriber_rollups(site.id, "day", day, day + DAY_SECONDS)
    assert rollup.new == 4  # a, old (moved, not new again), hold, b
    counts = {(b.dimension, b.value): b.count for b in await store.subscriber_breakdowns(site.id)}
    assert {k: v for k, v in counts.items() if k[0] != "country" and v} == {
        ("browser", ""): 3,
        ("browser", "firefox"): 1,
        ("push_service", "fcm"): 2,
        ("push_service", "mozilla"): 2,
        ("language", "en"): 1,
        ("language", "fr"): 1,
        ("language", "it"): 1,
        ("language", ""): 1,
        ("timezone", ""): 4,
    }
    tags = await store._all(
        "SELECT s.endpoint, t.name, t.value FROM subscription_tags t "
        "JOIN subscriptions s ON s.key = t.subscription_key ORDER BY 1"
    )
    assert [tuple(row) for row in tags] == [(f"{FCM}-a", "plan", "pro"), (f"{MOZILLA}-b", "n", 2)]


async def test_the_cap_refuses_only_the_new_subscriptions_past_it(store: SQLiteStore) -> None:
    site, _ = await store.create_site("news", ["https://news.example"])
    await store.upsert_subscription(site.id, browser(f"{FCM}-0"), max_subscriptions=3)
    results = await asyncio.gather(
        *(
            store.upsert_subscription(site.id, browser(f"{FCM}-{i}"), max_subscriptions=3)
            for i in range(6)
        ),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, SubscriptionLimitReached)]
    stored = [r for r in results if isinstance(r, tuple)]
    assert len(refused) == 3 and len(stored) == 3
    assert await store.count_subscriptions(site.id, up_to=100) == 3


async def test_a_store_that_cannot_write_answers_every_caller_of_the_batch(
    store: SQLiteStore,
) -> None:
    site, _ = await store.create_site("news", ["https://news.example"])
    writer = writer_of(store)
    writer.gate = asyncio.Event()
    hold = asyncio.ensure_future(store.upsert_subscription(site.id, browser(f"{FCM}-hold")))
    await until(lambda: store._committer is not None and not store._upserts)
    batch = asyncio.ensure_future(
        asyncio.gather(
            *(store.upsert_subscription(site.id, browser(f"{FCM}-{i}")) for i in range(30)),
            return_exceptions=True,
        )
    )
    await until(lambda: len(store._upserts) == 30)
    inserts = 0

    def disk_error(sql: str, params: Any) -> Exception | None:
        nonlocal inserts
        if not sql.startswith("INSERT INTO subscriptions "):
            return None
        inserts += 1  # the second batch's insert fails: its transaction is rolled back
        return sqlite3.OperationalError("disk I/O error") if inserts == 2 else None

    writer.fail = disk_error
    writer.gate.set()
    await hold  # the first batch was written
    results = await batch
    assert all(isinstance(r, StoreUnavailable) for r in results), results
    assert await store.count_subscriptions(site.id, up_to=100) == 1
    writer.fail = lambda sql, params: None
    subscription, created = await store.upsert_subscription(site.id, browser(f"{FCM}-0"))
    assert created and await store.count_subscriptions(site.id, up_to=100) == 2


async def test_one_row_the_database_refuses_fails_alone(store: SQLiteStore) -> None:
    """The batch fails on it, then every upsert is tried alone: each gets its own answer."""
    site, _ = await store.create_site("news", ["https://news.example"])
    writer = writer_of(store)
    poison = f"{FCM}-poison"

    def refuse_poison(sql: str, params: Any) -> Exception | None:
        return sqlite3.IntegrityError("CHECK constraint failed") if poison in str(params) else None

    writer.fail = refuse_poison
    calls: list[Awaitable[Any]] = [
        store.upsert_subscription(site.id, browser(f"{FCM}-{i}")) for i in range(20)
    ]
    calls.insert(7, store.upsert_subscription(site.id, browser(poison)))
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(results[7], sqlite3.IntegrityError)
    assert all(isinstance(r, tuple) and r[1] for i, r in enumerate(results) if i != 7)
    assert await store.count_subscriptions(site.id, up_to=100) == 20
    rows = await store._all("SELECT json_group_array(endpoint) FROM subscriptions")
    assert poison not in json.loads(rows[0][0])
