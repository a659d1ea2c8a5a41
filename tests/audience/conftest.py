"""A store of 10,000 subscribers with varied typed tags, languages, zones, countries, browsers,
push services and dates, shared by the audience tests of a module (built once: ~3 s)."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pushgate.store.models import NewSubscription
from pushgate.store.sqlite import SQLiteStore
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
    loop: asyncio.AbstractEventLoop
    store: SQLiteStore
    site_id: str
    path: Path
    rows: list[Row]
    now: float

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)


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
def population(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Population]:
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
    path = tmp_path_factory.mktemp("audience") / "pushgate.db"
    loop = asyncio.new_event_loop()
    stack = AsyncExitStack()
    store = loop.run_until_complete(stack.enter_async_context(SQLiteStore.open(path)))
    site, _ = loop.run_until_complete(store.create_site("audience", ["https://a.example"]))
    loop.run_until_complete(store.add_subscriptions_bulk(site.id, [sub for sub, _ in made]))
    with sqlite3.connect(path) as db:
        keys = [k for (k,) in db.execute("SELECT key FROM subscriptions ORDER BY key")]
        db.executemany(
            "UPDATE subscriptions SET created_at = ?, last_seen_at = ? WHERE key = ?",
            [(c, s, k) for (c, s), k in zip(dates, keys, strict=True)],
        )
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
        for k, (s, service), (c, seen) in zip(keys, made, dates, strict=True)
    ]
    yield Population(loop, store, site.id, path, rows, now)
    loop.run_until_complete(stack.aclose())
    loop.close()
