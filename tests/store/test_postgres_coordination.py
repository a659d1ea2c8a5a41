"""What gateways on one PostgreSQL database tell each other: announcements reach every
listener (and listening resumes after its connection is cut), a notification's advisory lock
is held by one store at a time, released when its holder leaves; and lease renewal and
release, on both backends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from pushgate.store import Store, open_store
from pushgate.store.models import Audience, NewNotification, NewSubscription
from pushgate.store.postgres import leases

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def two_stores(postgres_url: str) -> AsyncIterator[tuple[Store, Store]]:
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(open_store(postgres_url))
        second = await stack.enter_async_context(open_store(postgres_url))
        yield first, second


async def _heard_within(heard: list[str], expected: str, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if expected in heard:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{expected!r} not heard; heard {heard}")


async def test_an_announcement_reaches_every_listening_store(
    two_stores: tuple[Store, Store],
) -> None:
    first, second = two_stores
    heard_first: list[str] = []
    heard_second: list[str] = []
    await first.listen(heard_first.append)
    await second.listen(heard_second.append)
    await first.announce("cancel:42")
    await _heard_within(heard_second, "cancel:42")
    await _heard_within(heard_first, "cancel:42")  # its own engine hears it too


async def test_listening_resumes_after_its_connection_is_cut(
    two_stores: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = two_stores
    monkeypatch.setattr(leases, "RELISTEN_SECONDS", 0.1)
    heard: list[str] = []
    await second.listen(heard.append)
    cut = await first._one(  # type: ignore[attr-defined]
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
    )
    assert cut is not None and cut[0] == 1
    for _ in range(100):  # announce until the listener is back (each try is a real NOTIFY)
        await first.announce("new")
        if heard:
            break
        await asyncio.sleep(0.1)
    assert heard and heard[-1] == "new"


async def test_a_notification_lock_is_held_by_one_store_at_a_time(
    two_stores: tuple[Store, Store],
) -> None:
    first, second = two_stores
    async with first.exclusive(7) as mine:
        assert mine
        async with second.exclusive(7) as theirs:
            assert not theirs
        async with second.exclusive(8) as other:
            assert other  # another notification's lock is free
    async with second.exclusive(7) as theirs:
        assert theirs  # released when the first holder's block ended


async def test_a_renewed_lease_keeps_deliveries_held_and_a_release_makes_them_due(
    database_url: str,
) -> None:
    now = 1_800_000_000.0
    async with open_store(database_url) as store:
        site, _ = await store.create_site("news", ["https://news.example"])
        subs = [NewSubscription(f"https://127.0.0.1:9/push/{i}", "p", "a") for i in range(3)]
        await store.add_subscriptions_bulk(site.id, subs)
        new = NewNotification({"title": "t"}, Audience(everyone=True), 3600)
        notification, _ = await store.create_notification(site.id, new, now=now)
        held = await store.expand_audience(notification, 500, now + 60)
        keys = [t.subscription_key for t in held]
        await store.renew_leases(notification.key, keys[:2], now + 600)
        again = await store.claim_due(notification.key, now + 61, 500, now + 121)
        assert [t.subscription_key for t in again] == keys[2:]  # only the lapsed lease
        await store.renew_leases(notification.key, keys[:1], now + 62)  # as a stopping engine
        released = await store.claim_due(notification.key, now + 62, 500, now + 122)
        assert [t.subscription_key for t in released] == keys[:1]
