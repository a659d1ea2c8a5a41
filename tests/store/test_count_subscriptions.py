"""A site's subscriptions counted no further than a limit, on both backends: what the `202` of
a send reads before it decides whether counting the audience is cheap."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pushgate.store import Store, open_store
from pushgate.store.models import NewSubscription
from tests.api.test_subscriptions import VALID_AUTH, VALID_P256DH

FCM = "https://fcm.googleapis.com/fcm/send/count"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    async with open_store(database_url) as store:
        yield store


def browsers(count: int, site: str) -> list[NewSubscription]:
    return [NewSubscription(f"{FCM}-{site}-{i}", VALID_P256DH, VALID_AUTH) for i in range(count)]


async def test_count_subscriptions_stops_at_the_limit_and_counts_one_site(store: Store) -> None:
    news, _ = await store.create_site("news", ["https://news.example"])
    shop, _ = await store.create_site("shop", ["https://shop.example"])
    assert await store.count_subscriptions(news.id, up_to=10) == 0
    await store.add_subscriptions_bulk(news.id, browsers(7, "news"))
    await store.add_subscriptions_bulk(shop.id, browsers(3, "shop"))
    assert await store.count_subscriptions(news.id, up_to=10) == 7
    assert await store.count_subscriptions(news.id, up_to=7) == 7
    assert await store.count_subscriptions(news.id, up_to=5) == 5
    assert await store.count_subscriptions(shop.id, up_to=100_001) == 3
