"""The dashboard's timeline verbs on both backends: `recent_notifications` pages a site's
notifications newest first, and `delivery_timeline` counts one notification's accepted
deliveries (deliveries.accepted_at) and browser-reported deliveries (events.at) per minute."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pushgate.store import Store, open_store
from pushgate.store.models import (
    Audience,
    DeliveryRef,
    DeliveryTarget,
    NewNotification,
    NewSubscription,
)

NOW = 1_800_000_000.0  # a whole minute: 30,000,000 × 60
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


async def _expand(store: Store, site_id: str, key: int) -> list[DeliveryTarget]:
    notification = next(
        n
        for n in (await store.recent_notifications(site_id, limit=10, before=None))[0]
        if n.key == key
    )
    return list(await store.expand_audience(notification, 100, NOW + 1))
