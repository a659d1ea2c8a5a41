"""The stats roll-ups (schema 15) on both backends: kept by the very writes that subscribe,
unsubscribe, settle outcomes and record events, equal to the counters they summarise, and left
alone by the retention prune, which takes the per-delivery rows of old notifications only."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pushgate.store import Store, open_store
from pushgate.store.migrations import MIGRATIONS
from pushgate.store.models import (
    Audience,
    DeliveryRef,
    DeliveryResult,
    NewNotification,
    NewSubscription,
)
from pushgate.store.stats_rows import DAY_SECONDS, bucket_of
from pushgate.webpush.vapid import generate_key_pair
from tests.api.test_subscriptions import VALID_AUTH, VALID_P256DH

FCM = "https://fcm.googleapis.com/fcm/send/rollup"
MOZILLA = "https://updates.push.services.mozilla.com/wpush/v2/rollup"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    async with open_store(database_url) as store:
        yield store


def browser(endpoint: str, **fields: object) -> NewSubscription:
    return NewSubscription(endpoint, VALID_P256DH, VALID_AUTH, **fields)  # type: ignore[arg-type]


async def test_subscriber_rollups_and_breakdowns_follow_every_write(store: Store) -> None:
    site, _ = await store.create_site("news", ["https://news.example"])
    other, _ = await store.create_site("shop", ["https://shop.example"])
    now = time.time()
    a, _ = await store.upsert_subscription(
        site.id, browser(f"{FCM}-a", browser="chrome", language="en")
    )
    await store.upsert_subscription(site.id, browser(f"{FCM}-b", browser="chrome", language="de"))
    await store.upsert_subscription(site.id, browser(f"{MOZILLA}-c", browser="firefox"))
    await store.add_subscriptions_bulk(
        site.id, [browser(f"{FCM}-d", timezone="Europe/Berlin"), browser(f"{FCM}-e")]
    )
    await store.add_subscriptions_bulk(other.id, [browser(f"{FCM}-other")])
    # A known endpoint refreshed with a new language: moved, not counted as new.
    await store.upsert_subscription(site.id, browser(f"{FCM}-a", language="fr"))
    await store.upsert_subscription(site.id, browser(f"{FCM}-b", language="fr"))
    assert await store.remove_subscription_by_endpoint(site.id, f"{FCM}-b")
    assert await store.remove_subscription(site.id, a.id)
    assert not await store.remove_subscription(site.id, "no-such-id")

    day, hour = bucket_of(now, "day"), bucket_of(now, "hour")
    days = await store.subscriber_rollups(site.id, "day", day, day + DAY_SECONDS)
    assert [(b.bucket, b.new, b.unsubscribed, b.gone) for b in days] == [(day, 5, 2, 0)]
    hours = await store.subscriber_rollups(site.id, "hour", day, day + DAY_SECONDS)
    assert [(b.bucket, b.new, b.unsubscribed) for b in hours] == [(hour, 5, 2)]
    assert await store.subscriber_net_before(site.id, day + DAY_SECONDS) == 3
    assert await store.subscriber_net_before(site.id, day) == 0
    assert await store.subscriber_net_before(other.id, day + DAY_SECONDS) == 1

    counts = {(b.dimension, b.value): b.count for b in await store.subscriber_breakdowns(site.id)}
    assert counts == {
        ("browser", "firefox"): 1,
        ("browser", ""): 2,
        ("push_service", "mozilla"): 1,
        ("push_service", "fcm"): 2,
        ("language", ""): 3,
        ("country", ""): 3,
        ("timezone", "Europe/Berlin"): 1,
        ("timezone", ""): 2,
    }


async def sent_to(store: Store, site_id: str, count: int, *, now: float) -> tuple[int, list[int]]:
    await store.add_subscriptions_bulk(
        site_id, [browser(f"{FCM}-{site_id}-{now}-{i}") for i in range(count)]
    )
    new = NewNotification({"title": "t"}, Audience(everyone=True), 3600)
    n, _ = await store.create_notification(site_id, new, now=now)
    keys = [t.subscription_key for t in await store.expand_audience(n, 100, now + 60)]
    return n.key, keys


async def test_delivery_rollups_equal_the_notification_counters(store: Store) -> None:
    site, _ = await store.create_site("news", ["https://news.example"])
    now = time.time()
    key, subs = await sent_to(store, site.id, 5, now=now)
    await store.record_accepted(key, subs[:2], 201, now=now)
    await store.record_results(
        [
            DeliveryResult(key, subs[2], "failed", 500, "server error"),
            DeliveryResult(key, subs[3], "gone", 410),
            DeliveryResult(key, subs[4], "accepted", 201),
            DeliveryResult(key, subs[4], "accepted", 201),  # counted once
        ],
        now=now,
    )
    for sub, kind in [(subs[0], "delivered"), (subs[0], "clicked"), (subs[1], "dismissed")]:
        assert await store.record_event(DeliveryRef(key, sub, site.id), kind, None)
    assert not await store.record_event(DeliveryRef(key, subs[0], site.id), "clicked", None)

    notification = next(
        n for n in (await store.list_notifications(site.id, status=None, limit=5, after=0))[0]
    )
    summed = await store.notification_rollups(key)
    counters = (
        notification.counts.accepted,
        notification.counts.delivered,
        notification.counts.clicked,
        notification.counts.dismissed,
        notification.counts.failed,
        notification.counts.gone,
    )
    assert counters == (3, 1, 1, 1, 1, 1)
    assert (
        summed.accepted,
        summed.delivered,
        summed.clicked,
        summed.dismissed,
        summed.failed,
        summed.gone,
    ) == counters
    day = bucket_of(now, "day")
    (series,) = await store.delivery_rollups(site.id, "day", day, day + DAY_SECONDS)
    assert (series.accepted, series.clicked, series.gone) == (3, 1, 1)
    (hourly,) = await store.delivery_rollups(site.id, "hour", day, day + DAY_SECONDS)
    assert hourly.accepted == 3
    # The minute roll-ups (the delivery timeline's) sum to the counters too, the events in
    # the minutes they were recorded in (the machine's clock here).
    minutes = await store.delivery_rollups(site.id, "minute", day, day + DAY_SECONDS)
    assert all(m.bucket % 60 == 0 for m in minutes)
    assert (
        tuple(
            sum(getattr(m, c) for m in minutes)
            for c in ("accepted", "delivered", "clicked", "dismissed", "failed", "gone")
        )
        == counters
    )
    # The gone subscriber left the total: 5 new, 1 gone.
    days = await store.subscriber_rollups(site.id, "day", day, day + DAY_SECONDS)
    assert [(b.new, b.gone) for b in days] == [(5, 1)]
    counts = {(b.dimension, b.value): b.count for b in await store.subscriber_breakdowns(site.id)}
    assert counts[("push_service", "fcm")] == 4


async def test_prune_takes_old_delivery_rows_and_keeps_counters_and_day_rollups(
    store: Store,
) -> None:
    site, _ = await store.create_site("news", ["https://news.example"])
    now = time.time()
    old_at = now - 40 * DAY_SECONDS
    old, old_subs = await sent_to(store, site.id, 5, now=old_at)
    await store.record_accepted(old, old_subs, 201, now=old_at)
    for sub in old_subs[:3]:
        await store.record_event(DeliveryRef(old, sub, site.id), "clicked", None)
    await store.finish_notification(old)
    recent, recent_subs = await sent_to(store, site.id, 2, now=now)
    await store.record_accepted(recent, recent_subs, 201, now=now)
    await store.finish_notification(recent)
    before = await store.delivery_rollups(site.id, "day", 0, now + DAY_SECONDS)
    minutes = await store.delivery_rollups(site.id, "minute", 0, now + DAY_SECONDS)
    assert sum(m.accepted for m in minutes) == 5 + 7  # the recent one went to all 7

    cutoff = now - 30 * DAY_SECONDS
    rounds = 0
    while await store.prune_delivery_rows(cutoff, limit=2):  # small batches
        rounds += 1
        assert rounds < 20
    assert rounds >= 3

    assert await store.delivery_ref(old, old_subs[0]) is None
    assert await store.delivery_ref(recent, recent_subs[0]) is not None
    assert await store.delivery_rollups(site.id, "day", 0, now + DAY_SECONDS) == before
    # The minute roll-ups are kept for ever: an old notification keeps its timeline.
    assert await store.delivery_rollups(site.id, "minute", 0, now + DAY_SECONDS) == minutes
    assert await store.delivery_rollups(site.id, "hour", 0, cutoff) == []
    assert len(await store.delivery_rollups(site.id, "hour", cutoff, now + DAY_SECONDS)) == 1
    (listed, _) = await store.list_notifications(site.id, status=None, limit=5, after=0)
    clicked = {n.key: (n.counts.accepted, n.counts.clicked) for n in listed}
    assert clicked == {old: (5, 3), recent: (7, 0)}  # everyone by then


async def test_a_job_lease_is_held_by_one_until_it_ends(store: Store) -> None:
    assert await store.take_job_lease("retention", 100.0, 160.0)
    assert not await store.take_job_lease("retention", 120.0, 180.0)
    assert await store.take_job_lease("other", 120.0, 180.0)
    assert await store.take_job_lease("retention", 161.0, 221.0)


async def test_concurrent_writes_keep_the_rollups_exact(store: Store) -> None:
    """Many writers at once (a pool of connections on PostgreSQL): subscribes, refreshes that
    move a language, and unsubscribes of one site never lose or double a count."""
    site, _ = await store.create_site("busy", ["https://busy.example"])
    endpoints = [f"{FCM}-busy-{i}" for i in range(40)]
    await asyncio.gather(
        *(store.upsert_subscription(site.id, browser(e, language="en")) for e in endpoints)
    )
    await asyncio.gather(
        *(store.upsert_subscription(site.id, browser(e, language="de")) for e in endpoints[:20]),
        *(store.remove_subscription_by_endpoint(site.id, e) for e in endpoints[20:30]),
        *(store.remove_subscription_by_endpoint(site.id, e) for e in endpoints[20:30]),  # twice
    )
    now = time.time()
    day = bucket_of(now, "day")
    (rollup,) = await store.subscriber_rollups(site.id, "day", day, day + DAY_SECONDS)
    assert (rollup.new, rollup.unsubscribed) == (40, 10)
    counts = {(b.dimension, b.value): b.count for b in await store.subscriber_breakdowns(site.id)}
    assert counts[("language", "de")] == 20
    assert counts[("language", "en")] == 10
    assert counts[("push_service", "fcm")] == 30


async def test_an_older_database_is_backfilled_by_the_migration(tmp_path: Path) -> None:
    """Schema 15 counts what was there: subscribers as new on the day they came, breakdowns,
    and each notification's counters on the day it was made (SQLite; PostgreSQL's migration
    runs the same statements, in its own dialect, in every PostgreSQL test)."""
    path = tmp_path / "old.sqlite"
    mine = next(i for i, m in enumerate(MIGRATIONS) if "CREATE TABLE subscriber_rollups" in m)
    keys = generate_key_pair()
    day = 1_700_000_000 // DAY_SECONDS * DAY_SECONDS
    with sqlite3.connect(path) as db:
        for script in MIGRATIONS[:mine]:
            db.executescript(script)
        db.execute(
            "INSERT INTO sites (id, name, origins, vapid_private_key, vapid_public_key, "
            "prompt_text, created_at) VALUES ('s1', 'old', '[]', ?, ?, 'Hi?', 1.0)",
            (keys.private_key, keys.public_key),
        )
        for n, (language, at) in enumerate(
            [("en", day + 5), ("en", day + 9), ("de", day + DAY_SECONDS)]
        ):
            db.execute(
                "INSERT INTO subscriptions (id, site_id, endpoint, p256dh, auth, language, "
                "created_at, last_seen_at, push_service) VALUES (?, 's1', ?, 'k', 'a', ?, ?, ?, "
                "'fcm')",
                (f"sub{n}", f"{FCM}-old-{n}", language, at, at),
            )
        db.execute(
            "INSERT INTO notifications (id, site_id, payload, audience, ttl, request_hash, "
            "created_at, status, accepted, clicked, gone) VALUES ('n1', 's1', '{}', '{}', 60, "
            "'h', ?, 'done', 7, 2, 1)",
            (day + 100,),
        )
        db.execute(f"PRAGMA user_version = {mine}")
    db.close()
    async with open_store(f"sqlite:///{path}") as store:
        rollups = await store.subscriber_rollups("s1", "day", 0, day + 2 * DAY_SECONDS)
        assert [(r.bucket, r.new) for r in rollups] == [(day, 2), (day + DAY_SECONDS, 1)]
        assert await store.subscriber_net_before("s1", day + 2 * DAY_SECONDS) == 3
        counts = {(b.dimension, b.value): b.count for b in await store.subscriber_breakdowns("s1")}
        assert counts[("language", "en")] == 2
        assert counts[("push_service", "fcm")] == 3
        (sent,) = await store.delivery_rollups("s1", "day", day, day + DAY_SECONDS)
        assert (sent.accepted, sent.clicked, sent.gone) == (7, 2, 1)


async def test_search_pages_through_a_tag_held_by_many(store: Store) -> None:
    site, _ = await store.create_site("tagged", ["https://tagged.example"])
    subs = [
        browser(f"{FCM}-tagged-{i}", tags={"plan": "pro" if i % 2 else "free"}) for i in range(120)
    ]
    await store.add_subscriptions_bulk(site.id, subs)
    for query, expected in (("plan", 120), ("plan=pro", 60), ("plan = free", 60)):
        seen: list[int] = []
        after: int | None = 0
        while after is not None:
            page, after = await store.search_subscribers(site.id, query, limit=50, after=after)
            seen += [s.key for s in page]
        assert len(seen) == expected, query
        assert seen == sorted(set(seen))
