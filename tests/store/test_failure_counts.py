"""The observability verbs on both backends: `delivery_failures` groups a notification's failed
and gone deliveries by push service, status and reason (a gone subscription's service from its
reason, as it is deleted), and `store_counts` counts subscriptions per site, notifications per
status and pending deliveries."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pushgate.store import Store, open_store
from pushgate.store.counts import FailureCount
from pushgate.store.models import Audience, DeliveryResult, NewNotification, NewSubscription

NOW = 1_800_000_000.0
FCM = "https://fcm.googleapis.com/fcm/send/"
APPLE = "https://web.push.apple.com/"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    async with open_store(database_url) as store:
        yield store


async def _site(store: Store, name: str, endpoints: list[str]) -> str:
    site, _ = await store.create_site(name, [f"https://{name}.example"])
    subs = [NewSubscription(endpoint, "p", "a") for endpoint in endpoints]
    assert await store.add_subscriptions_bulk(site.id, subs) == len(endpoints)
    return site.id


async def _broadcast(store: Store, site_id: str) -> tuple[int, list[int]]:
    new = NewNotification({"title": "t"}, Audience(everyone=True), 3600)
    n, _ = await store.create_notification(site_id, new, now=NOW)
    keys = [t.subscription_key for t in await store.expand_audience(n, 100, NOW + 60)]
    return n.key, keys


async def test_failures_are_grouped_by_service_status_and_reason(store: Store) -> None:
    endpoints = [f"{FCM}{i}" for i in range(4)] + [f"{APPLE}{i}" for i in range(4)]
    site_id = await _site(store, "news", endpoints)
    key, subs = await _broadcast(store, site_id)
    fcm, apple = subs[:4], subs[4:]
    await store.record_accepted(key, [fcm[0]], 201, NOW)
    await store.record_results(
        [
            DeliveryResult(key, fcm[1], "failed", 403, "fcm: VAPID key mismatch"),
            DeliveryResult(key, fcm[2], "failed", 403, "fcm: VAPID key mismatch"),
            DeliveryResult(key, fcm[3], "gone", 410, "fcm: NotRegistered"),
            DeliveryResult(key, apple[0], "failed", 403, "apple: BadJwtToken"),
            DeliveryResult(key, apple[1], "failed", 0, "TimeoutError: no answer within 10 s"),
            DeliveryResult(key, apple[2], "pending", 503, "apple: unavailable", NOW + 5),
        ],
        NOW,
    )
    failures = await store.delivery_failures(key)
    assert sorted(failures, key=lambda f: (f.reason or "", f.status or 0)) == [
        # A timeout's reason names no service: the subscription (still there) does.
        FailureCount("apple", 0, "TimeoutError: no answer within 10 s", 1),
        FailureCount("apple", 403, "apple: BadJwtToken", 1),
        FailureCount(None, 410, "fcm: NotRegistered", 1),  # gone: its subscription deleted
        FailureCount("fcm", 403, "fcm: VAPID key mismatch", 2),
    ]
    assert failures[0] == FailureCount("fcm", 403, "fcm: VAPID key mismatch", 2)  # most first


async def test_failures_of_another_notification_are_not_counted(store: Store) -> None:
    site_id = await _site(store, "news", [f"{FCM}{i}" for i in range(2)])
    first, subs = await _broadcast(store, site_id)
    second, _ = await _broadcast(store, site_id)
    await store.record_results([DeliveryResult(first, subs[0], "failed", 400, "fcm: x")], NOW)
    assert await store.delivery_failures(second) == []
    assert [f.count for f in await store.delivery_failures(first)] == [1]


async def test_store_counts_by_site_status_and_pending(store: Store) -> None:
    news = await _site(store, "news", [f"{FCM}{i}" for i in range(3)])
    blog = await _site(store, "blog", [f"{APPLE}{i}" for i in range(2)])
    key, subs = await _broadcast(store, news)
    await store.record_accepted(key, subs[:1], 201, NOW)
    await store.create_notification(
        blog, NewNotification({"title": "t"}, Audience(everyone=True), 3600), now=NOW
    )
    counts = await store.store_counts()
    assert counts.subscriptions_by_site == {news: 3, blog: 2}
    assert counts.notifications_by_status == {"queued": 1, "sending": 1}
    assert counts.pending_deliveries == 2  # expanded, not yet answered
