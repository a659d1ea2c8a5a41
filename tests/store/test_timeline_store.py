"""The dashboard's timeline verbs on both backends: `recent_notifications` pages a site's
notifications newest first, and `delivery_timeline` counts one notification's accepted
deliveries (deliveries.accepted_at) and browser-reported deliveries (events.at) per minute:
from the minute roll-ups the same writes keep (schema 18), which outlive the retention prune,
or from those rows for a notification without any (settled before the roll-ups)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pushgate.store import Store, open_store
from pushgate.store.models import (
    Audience,
    DeliveryRef,
    DeliveryResult,
    DeliveryTarget,
    NewNotification,
    NewSubscription,
)
from pushgate.store.timeline_rows import MinuteCount
from tests.store.test_site_deletion import execute

NOW = 1_800_000_000.0  # a whole minute: 30,000,000 × 60
DAY = 86_400
FCM = "https://fcm.googleapis.com/fcm/send/"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    async with open_store(database_url) as store:
        yield store


async def _site(store: Store, name: str, subscribers: int) -> str:
    site, _ = await store.create_site(name, [f"https://{name}.example"])
    subs = [NewSubscription(f"{FCM}{name}{i}", "p", "a") for i in range(subscribers)]
    assert await store.add_subscriptions_bulk(site.id, subs) == subscribers
    return site.id


async def _notify(store: Store, site_id: str, title: str) -> tuple[int, str]:
    new = NewNotification({"title": title}, Audience(everyone=True), 3600)
    n, _ = await store.create_notification(site_id, new, now=NOW)
    return n.key, n.id


async def test_recent_notifications_are_newest_first_in_pages(store: Store) -> None:
    site_id = await _site(store, "news", 0)
    other = await _site(store, "blog", 0)
    ids = [(await _notify(store, site_id, f"n{i}"))[1] for i in range(5)]
    await _notify(store, other, "not listed")
    first, after = await store.recent_notifications(site_id, limit=2, before=None)
    assert [n.id for n in first] == [ids[4], ids[3]]
    assert after is not None
    second, after = await store.recent_notifications(site_id, limit=2, before=after)
    assert [n.id for n in second] == [ids[2], ids[1]]
    last, after = await store.recent_notifications(site_id, limit=2, before=after)
    assert [n.id for n in last] == [ids[0]] and after is None
    exact, more = await store.recent_notifications(site_id, limit=5, before=None)
    assert len(exact) == 5 and more is None
    assert await store.recent_notifications("0" * 16, limit=5, before=None) == ([], None)


async def test_delivery_timeline_counts_accepted_and_delivered_per_minute(store: Store) -> None:
    site_id = await _site(store, "news", 6)
    key, _ = await _notify(store, site_id, "t")
    other, _ = await _notify(store, site_id, "other")
    subs = [t.subscription_key for t in await _expand(store, site_id, key)]
    await store.record_accepted(key, subs[:3], 201, NOW + 5)  # minute 0
    await store.record_accepted(key, subs[3:5], 201, NOW + 59.9)  # still minute 0
    await store.record_accepted(key, subs[5:], 201, NOW + 125)  # minute 2
    for sub in subs[:4]:
        assert await store.record_event(DeliveryRef(key, sub, site_id), "delivered", None)
    assert await store.record_event(DeliveryRef(key, subs[0], site_id), "clicked", None)
    timeline = await store.delivery_timeline(key)
    # events.at is the time the event was recorded: group those by their own minute.
    accepted = {m.minute: m.accepted for m in timeline if m.accepted}
    assert accepted == {int(NOW): 5, int(NOW) + 120: 1}
    assert sum(m.delivered for m in timeline) == 4  # the click is not a delivery
    assert all(m.minute % 60 == 0 for m in timeline)
    assert [m.minute for m in timeline] == sorted({m.minute for m in timeline})
    assert await store.delivery_timeline(other) == []


async def test_the_minute_rollups_count_what_the_rows_say(store: Store) -> None:
    """Outcomes settled one by one and in batches, browser events in other minutes: the
    timeline read from the minute roll-ups equals the one counted from the rows."""
    site_id = await _site(store, "news", 8)
    key, _ = await _notify(store, site_id, "t")
    other, _ = await _notify(store, site_id, "other")
    subs = [t.subscription_key for t in await _expand(store, site_id, key)]
    await store.record_accepted(key, subs[:3], 201, NOW + 5)
    await store.record_results(
        [
            DeliveryResult(key, subs[3], "accepted", 201),
            DeliveryResult(key, subs[4], "accepted", 201),
            DeliveryResult(key, subs[5], "failed", 500, "server error"),
        ],
        now=NOW + 70,
    )
    await store.record_results([DeliveryResult(key, subs[6], "gone", 410)], now=NOW + 200)
    await store.record_accepted(key, subs[7:], 201, NOW + 3 * 3600 + 1)  # hours later
    for i, sub in enumerate(subs[:4]):
        ref = DeliveryRef(key, sub, site_id)
        assert await store.record_event(ref, "delivered", None, NOW + 61 + 60 * i)
    assert await store.record_event(DeliveryRef(key, subs[0], site_id), "clicked", None, NOW + 600)
    expected = [
        MinuteCount(int(NOW), 3, 0),
        MinuteCount(int(NOW) + 60, 2, 1),
        MinuteCount(int(NOW) + 120, 0, 1),
        MinuteCount(int(NOW) + 180, 0, 1),
        MinuteCount(int(NOW) + 240, 0, 1),
        MinuteCount(int(NOW) + 3 * 3600, 1, 0),
    ]  # the failure, the gone answer and the click are no point of the chart
    assert await store.delivery_timeline(key) == expected
    await execute(store, "DELETE FROM delivery_rollups WHERE span = 'minute'")
    assert await store.delivery_timeline(key) == expected  # counted from the rows
    assert await store.delivery_timeline(other) == []


async def test_the_timeline_survives_the_retention_prune(store: Store) -> None:
    site_id = await _site(store, "news", 3)
    key, _ = await _notify(store, site_id, "t")
    subs = [t.subscription_key for t in await _expand(store, site_id, key)]
    await store.record_accepted(key, subs, 201, NOW + 5)
    assert await store.record_event(DeliveryRef(key, subs[0], site_id), "delivered", None, NOW + 65)
    await store.finish_notification(key)
    before = await store.delivery_timeline(key)
    assert before == [MinuteCount(int(NOW), 3, 0), MinuteCount(int(NOW) + 60, 0, 1)]
    cutoff = NOW + 31 * DAY  # 31 days on: past a 30-day retention
    rounds = 0
    while await store.prune_delivery_rows(cutoff, limit=2):
        rounds += 1
        assert rounds < 20
    assert await store.delivery_ref(key, subs[0]) is None  # the rows went
    assert await store.delivery_rollups(site_id, "hour", 0, cutoff) == []  # the hours too
    assert await store.delivery_timeline(key) == before


async def _expand(store: Store, site_id: str, key: int) -> list[DeliveryTarget]:
    notification = next(
        n
        for n in (await store.recent_notifications(site_id, limit=10, before=None))[0]
        if n.key == key
    )
    return list(await store.expand_audience(notification, 100, NOW + 1))
