"""The store's edit verbs: an edit runs on each subscription inside one write, all or nothing,
and only within the site named."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from pushgate.store import Store, open_store
from pushgate.store.models import NewSubscription, Subscription, SubscriptionChanges
from pushgate.subscribers import TooManyTags, merge_user_tags, update_subscription
from tests.api.test_subscriptions import FCM, VALID_AUTH, VALID_P256DH


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    async with open_store(database_url) as store:
        yield store


async def add(store: Store, site_id: str, name: str, **fields: Any) -> Subscription:
    new = NewSubscription(f"{FCM}-{name}", VALID_P256DH, VALID_AUTH, **fields)
    subscription, _ = await store.upsert_subscription(site_id, new)
    return subscription


async def tags_by_name(store: Store, site_id: str) -> dict[str, Any]:
    page, _ = await store.list_subscriptions(site_id, limit=100, after=0)
    return {s.endpoint.rsplit("-", 1)[1]: s.tags for s in page}


async def test_update_subscription_writes_the_edit_and_only_in_its_site(store: Store) -> None:
    site, _ = await store.create_site("a", ["https://a.example"])
    other, _ = await store.create_site("b", ["https://b.example"])
    sub = await add(store, site.id, "1", tags={"n": 1})
    changes = SubscriptionChanges(tags={"n": None, "on": True}, fields={"language": "fr"})
    updated = await update_subscription(store, site.id, sub.id, changes)
    assert updated is not None and (updated.tags, updated.language) == ({"on": True}, "fr")
    assert await tags_by_name(store, site.id) == {"1": {"on": True}}
    assert await update_subscription(store, other.id, sub.id, changes) is None


async def test_an_edit_that_raises_writes_nothing_for_any_subscription(store: Store) -> None:
    site, _ = await store.create_site("a", ["https://a.example"])
    await add(store, site.id, "1", external_id="ada", tags={"n": 1})
    await add(store, site.id, "2", external_id="ada", tags={"n": 2})
    seen: list[str] = []

    def edit(sub: Subscription) -> Subscription:
        seen.append(sub.id)
        if len(seen) == 2:
            raise TooManyTags("the second one")
        return replace(sub, tags={"n": 0})

    with pytest.raises(TooManyTags):
        await store.update_user_subscriptions(site.id, "ada", edit)
    assert len(seen) == 2
    assert await tags_by_name(store, site.id) == {"1": {"n": 1}, "2": {"n": 2}}


async def test_merge_user_tags_counts_the_users_subscriptions_in_its_site(store: Store) -> None:
    site, _ = await store.create_site("a", ["https://a.example"])
    other, _ = await store.create_site("b", ["https://b.example"])
    await add(store, site.id, "1", external_id="ada")
    await add(store, site.id, "2", external_id="bob")
    await add(store, other.id, "3", external_id="ada")
    assert await merge_user_tags(store, site.id, "ada", {"vip": True}) == 1
    assert await merge_user_tags(store, site.id, "nobody", {"vip": True}) == 0
    assert await tags_by_name(store, site.id) == {"1": {"vip": True}, "2": {}}
    assert await tags_by_name(store, other.id) == {"3": {}}
