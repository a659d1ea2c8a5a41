"""A notification resolves its segments (and `within`) at its first expansion and keeps the
result: a segment edited mid-send, or a gateway restarted mid-send, changes nobody's fate. On
both backends; on PostgreSQL also with two gateways, and two transactions, racing."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Any

import asyncpg

from pushgate.audience.parse import parse_filter
from pushgate.store import open_store
from pushgate.store.models import Audience, NewNotification, NewSubscription, Segment
from pushgate.store.postgres.segments import next_audience_rows
from tests.api.test_subscriptions import FCM, VALID_AUTH, VALID_P256DH

PRO = parse_filter({"field": "tags.plan", "op": "eq", "value": "pro"})
FREE = parse_filter({"field": "tags.plan", "op": "eq", "value": "free"})
TO_MEMBERS = NewNotification({"title": "t"}, Audience(segment="members"), 60)


def subscribers(n: int) -> list[NewSubscription]:
    plans = ("pro", "free")
    return [
        NewSubscription(f"{FCM}{i}", VALID_P256DH, VALID_AUTH, tags={"plan": plans[i % 2]})
        for i in range(n)
    ]


async def kept_resolution(url: str) -> Any:
    """The resolved audience the (one) notification keeps, as JSON."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            (kept,) = db.execute("SELECT resolved_audience FROM notifications").fetchone()
    else:
        db = await asyncpg.connect(url)
        try:
            kept = await db.fetchval("SELECT resolved_audience FROM notifications")
        finally:
            await db.close()
    return json.loads(kept)


async def test_a_segment_edited_or_a_restart_mid_send_changes_nobodys_fate(
    database_url: str,
) -> None:
    async with open_store(database_url) as store:
        site, _ = await store.create_site("news", ["https://news.example"])
        await store.add_subscriptions_bulk(site.id, subscribers(20))
        await store.create_segment(site.id, Segment("members", PRO, None, 0.0, 0.0))
        notification, _ = await store.create_notification(site.id, TO_MEMBERS)
        first = await store.expand_audience(notification, 3, 0.0)
        await store.replace_segment(site.id, Segment("members", FREE, None, 0.0, 1.0))
    async with open_store(database_url) as store:  # a restart
        rest = await store.expand_audience(notification, 100, 0.0)
        now_members = await store.count_audience(site.id, Audience(segment="members"), 0.0)
    keys = [t.subscription_key for t in first + rest]
    assert keys == list(range(1, 21, 2))  # the pros: keys 1, 3, ... 19, each once
    assert now_members == 10  # the segment itself now holds the free ones
    assert await kept_resolution(database_url) == {
        "field": "tags.plan",
        "op": "eq",
        "value": "pro",
    }


async def test_within_is_fixed_to_a_time_when_the_delivery_starts(database_url: str) -> None:
    async with open_store(database_url) as store:
        site, _ = await store.create_site("news", ["https://news.example"])
        await store.add_subscriptions_bulk(site.id, subscribers(4))
        recent = parse_filter({"field": "last_seen_at", "op": "within", "value": "1h"})
        notification, _ = await store.create_notification(
            site.id, NewNotification({"title": "t"}, Audience(filter=recent), 60)
        )
        assert len(await store.expand_audience(notification, 10, 0.0)) == 4
    leaf = await kept_resolution(database_url)
    assert (leaf["field"], leaf["op"]) == ("last_seen_at", "gte")
    assert parse_filter(leaf)  # an RFC 3339 time, an hour before the notification's start


async def test_a_segment_deleted_despite_all_matches_nobody(database_url: str) -> None:
    async with open_store(database_url) as store:
        site, _ = await store.create_site("news", ["https://news.example"])
        await store.add_subscriptions_bulk(site.id, subscribers(4))
        gone = Audience(segment="never-saved")
        assert await store.count_audience(site.id, gone, 0.0) == 0
        notification, _ = await store.create_notification(
            site.id, NewNotification({"title": "t"}, gone, 60)
        )
        assert await store.expand_audience(notification, 10, 0.0) == []


async def test_two_gateways_expanding_one_send_reach_its_first_resolution_once(
    postgres_url: str,
) -> None:
    async with open_store(postgres_url) as one, open_store(postgres_url) as two:
        site, _ = await one.create_site("news", ["https://news.example"])
        await one.add_subscriptions_bulk(site.id, subscribers(200))
        await one.create_segment(site.id, Segment("members", PRO, None, 0.0, 0.0))
        notification, _ = await one.create_notification(site.id, TO_MEMBERS)
        first = await one.expand_audience(notification, 5, 0.0)
        await two.replace_segment(site.id, Segment("members", FREE, None, 0.0, 1.0))

        async def expand(store: Any) -> list[int]:
            keys: list[int] = []
            while batch := await store.expand_audience(notification, 7, 0.0):
                keys += [t.subscription_key for t in batch]
            return keys

        rest = await asyncio.gather(expand(one), expand(two))
    keys = [t.subscription_key for t in first] + rest[0] + rest[1]
    assert sorted(keys) == list(range(1, 201, 2))  # the pros, each once, between them
    assert rest[0] and rest[1]  # both took batches


async def test_a_racing_reader_waits_for_the_cursor_and_resolution_of_the_first(
    postgres_url: str,
) -> None:
    """next_audience_rows holds the notification row itself: a second transaction reads after
    the first has moved the cursor, and the audience the first resolved, not a later edit."""
    async with open_store(postgres_url) as store:
        site, _ = await store.create_site("news", ["https://news.example"])
        await store.add_subscriptions_bulk(site.id, subscribers(20))
        await store.create_segment(site.id, Segment("members", PRO, None, 0.0, 0.0))
        notification, _ = await store.create_notification(site.id, TO_MEMBERS)
    a, b = await asyncpg.connect(postgres_url), await asyncpg.connect(postgres_url)
    try:
        first = a.transaction()
        await first.start()
        read = await next_audience_rows(a, notification, "key", 3)
        assert read is not None and [r["key"] for r in read] == [1, 3, 5]
        await b.execute(
            "UPDATE segments SET filter = $1",
            json.dumps({"field": "tags.plan", "op": "eq", "value": "free"}),
        )

        async def second() -> list[int]:
            async with b.transaction():
                rows = await next_audience_rows(b, notification, "key", 3)
                return [r["key"] for r in rows or []]

        racing = asyncio.create_task(second())
        await asyncio.sleep(0.3)
        assert not racing.done()  # it waits for the first's transaction
        await a.execute("UPDATE notifications SET cursor = 5 WHERE key = $1", notification.key)
        await first.commit()
        assert await racing == [7, 9, 11]
    finally:
        await a.close()
        await b.close()
