"""A store of 10,000 subscribers with varied typed tags, languages, zones, countries, browsers,
push services and dates, shared by the audience tests of the package: the same subscribers in
a SQLite store and in a PostgreSQL store, each built once (~3 s) through the store's own verbs."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from pushgate.store import open_store
from pushgate.store.base import Store
from pushgate.store.models import NewSubscription
from pushgate.testing.postgres import LocalPostgres
from tests.api.test_subscriptions import VALID_AUTH, VALID_P256DH

SUBSCRIBERS = 10_000
HOUR = 3600.0
HOSTS = {
    "fcm.googleapis.com": "fcm",
    "updates.push.services.mozilla.com": "mozilla",
    "web.push.apple.com": "apple",
    "wns2-by3p.notify.windows.com": "wns",
    "push.example.net": "other",
}
TAG_VALUES: dict[str, list[Any]] = {
    "plan": ["pro", "free", "5", 5],
    "score": [0, 1, 5, 7.5, 9, "5", True, -3],
    "beta": [True, False, 1, 0],
    "topic": ["sports", "news", "tech"],
    "n": [1, 2.0, 2, False, "2"],
}
LANGUAGES = [None, "en", "en-GB", "EN-us", "de", "de-AT", "fr", "pt-BR"]
ZONES = [None, "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"]
COUNTRIES = [None, None, None, "FR", "DE", "US"]  # GeoIP's, when it found one
BROWSERS = [None, "chrome", "edge", "firefox", "safari", "opera", "samsung", "other"]
EXTERNAL_IDS = [None, None, "u1", "u2", "u3"]


@dataclass(frozen=True)
class Row:
    key: int
    tags: dict[str, Any]
    language: str | None
    timezone: str | None
    country: str | None
    browser: str | None
    push_service: str
    external_id: str | None
    created_at: float
    last_seen_at: float


@dataclass
class Population:
    backend: str  # "sqlite" or "postgresql"
    database: str  # the database URL
    loop: asyncio.AbstractEventLoop
    store: Store
    site_id: str
    rows: list[Row]  # in key order, the same subscribers in every backend's population
    now: float

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)


@dataclass(frozen=True)
class Subscribers:
    """What both stores are filled with: the subscribers, their push services, their dates."""

    made: list[tuple[NewSubscription, str]]
    dates: list[tuple[float, float]]  # (created_at, last_seen_at)
    now: float


def _subscriber(rng: random.Random, i: int) -> tuple[NewSubscription, str]:
    host = rng.choice(list(HOSTS))
    tags = {name: rng.choice(values) for name, values in TAG_VALUES.items() if rng.random() < 0.6}
    sub = NewSubscription(
        f"https://{host}/push/{i}",
        VALID_P256DH,
        VALID_AUTH,
        timezone=rng.choice(ZONES),
        language=rng.choice(LANGUAGES),
        tags=tags,
        external_id=rng.choice(EXTERNAL_IDS),
        browser=rng.choice(BROWSERS),
        country=rng.choice(COUNTRIES),
    )
    return sub, HOSTS[host]


@pytest.fixture(scope="package")
def subscribers() -> Subscribers:
    rng = random.Random(9)
    made = [_subscriber(rng, i) for i in range(SUBSCRIBERS)]
    # Whole hours and a half back from now: a `within` or time bound on whole hours is never
    # within half an hour of a subscriber, so a few seconds between count and send change nothing.
    now = time.time()
    dates = [
        (
            now - rng.randrange(0, 2000) * HOUR - HOUR / 2,
            now - rng.randrange(0, 200) * HOUR - HOUR / 2,
        )
        for _ in made
    ]
    return Subscribers(made, dates, now)


@pytest.fixture(scope="package")
def sqlite_population(
    subscribers: Subscribers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Population]:
    path = tmp_path_factory.mktemp("audience") / "pushgate.db"

    async def set_dates() -> list[int]:
        with sqlite3.connect(path) as db:
            keys = [k for (k,) in db.execute("SELECT key FROM subscriptions ORDER BY key")]
            db.executemany(
                "UPDATE subscriptions SET created_at = ?, last_seen_at = ? WHERE key = ?",
                [(c, s, k) for (c, s), k in zip(subscribers.dates, keys, strict=True)],
            )
        return keys

    yield from _population("sqlite", f"sqlite:///{path}", subscribers, set_dates)


@pytest.fixture(scope="package")
def postgres_population(
    subscribers: Subscribers, postgres_cluster: LocalPostgres
) -> Iterator[Population]:
    url = postgres_cluster.create_database()

    async def set_dates() -> list[int]:
        db = await asyncpg.connect(url)
        try:
            keys = [r[0] for r in await db.fetch("SELECT key FROM subscriptions ORDER BY key")]
            await db.execute(
                "UPDATE subscriptions s SET created_at = d.c, last_seen_at = d.s FROM "
                "unnest($1::float8[], $2::float8[], $3::bigint[]) AS d(c, s, k) WHERE s.key = d.k",
                *zip(*subscribers.dates, strict=True),
                keys,
            )
            # Statistics, as autovacuum would gather them in time: the plans under test.
            await db.execute("ANALYZE")
        finally:
            await db.close()
        return keys

    yield from _population("postgresql", url, subscribers, set_dates)


@pytest.fixture(scope="package")
def populations(sqlite_population: Population, postgres_population: Population) -> list[Population]:
    """The same subscribers in each backend: a test that takes this checks both."""
    return [sqlite_population, postgres_population]


def _population(
    backend: str,
    url: str,
    subscribers: Subscribers,
    set_dates: Callable[[], Awaitable[list[int]]],
) -> Iterator[Population]:
    """A store at `url` filled with `subscribers` by its verbs; `set_dates` gives them their
    dates in SQL and returns their keys in order."""
    loop = asyncio.new_event_loop()
    stack = AsyncExitStack()
    store = loop.run_until_complete(stack.enter_async_context(open_store(url)))
    site, _ = loop.run_until_complete(store.create_site("audience", ["https://a.example"]))
    made = subscribers.made
    loop.run_until_complete(store.add_subscriptions_bulk(site.id, [sub for sub, _ in made]))
    keys = loop.run_until_complete(set_dates())
    rows = [
        Row(
            k,
            s.tags or {},
            s.language,
            s.timezone,
            s.country,
            s.browser,
            service,
            s.external_id,
            c,
            seen,
        )
        for k, (s, service), (c, seen) in zip(keys, made, subscribers.dates, strict=True)
    ]
    try:
        yield Population(backend, url, loop, store, site.id, rows, subscribers.now)
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()
