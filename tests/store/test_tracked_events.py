"""Tracked events in the store, on both backends: stored once per id and site (also when the
same id arrives twice at once), tied to a subscription by its id or its endpoint and only
within the site, props keeping their types."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pushgate.store import Store, open_store
from pushgate.store.automation_models import NewTrackedEvent
from pushgate.store.models import NewSubscription, Subscription
from tests.api.test_subscriptions import FCM, VALID_AUTH, VALID_P256DH

NOW = 1_780_000_000.0
PROPS = {"cart_id": "c1", "total": 12.5, "items": 3, "gift": False}


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    async with open_store(database_url) as store:
        yield store


async def add(store: Store, site_id: str, name: str) -> Subscription:
    new = NewSubscription(f"{FCM}-{name}", VALID_P256DH, VALID_AUTH)
    subscription, _ = await store.upsert_subscription(site_id, new)
    return subscription


def cart_add(event_id: str = "evt-1", **tie: str) -> NewTrackedEvent:
    return NewTrackedEvent(event_id, "cart_add", PROPS, NOW - 60, **tie)


async def test_an_event_is_stored_once_per_id_and_site(store: Store) -> None:
    site, _ = await store.create_site("a", ["https://a.example"])
    other, _ = await store.create_site("b", ["https://b.example"])
    first = await store.record_tracked_event(site.id, cart_add(external_id="u1"), NOW)
    assert first is not None
    event, created = first
    assert created
    assert (event.id, event.name, event.external_id, event.subscription_id) == (
        "evt-1", "cart_add", "u1", None,
    )  # fmt: skip
    assert (event.occurred_at, event.received_at) == (NOW - 60, NOW)
    assert event.props == PROPS
    assert [type(event.props[k]) for k in PROPS] == [str, float, int, bool]

    changed = NewTrackedEvent("evt-1", "checkout", {}, NOW, external_id="u2")
    assert await store.record_tracked_event(site.id, changed, NOW + 5) == (event, False)
    elsewhere = await store.record_tracked_event(other.id, changed, NOW + 5)
    assert elsewhere is not None and elsewhere[1] and elsewhere[0].name == "checkout"


async def test_the_same_id_at_once_is_created_by_exactly_one(store: Store) -> None:
    site, _ = await store.create_site("a", ["https://a.example"])
    answers = await asyncio.gather(
        *(
            store.record_tracked_event(site.id, cart_add("evt-race", external_id=f"u{i}"), NOW)
            for i in range(8)
        )
    )
    recorded = [answer for answer in answers if answer is not None]
    assert len(recorded) == 8
    assert sum(created for _, created in recorded) == 1
    assert len({event.external_id for event, _ in recorded}) == 1  # the first one stands


async def test_an_event_is_tied_by_subscription_id_or_endpoint_within_the_site(
    store: Store,
) -> None:
    site, _ = await store.create_site("a", ["https://a.example"])
    other, _ = await store.create_site("b", ["https://b.example"])
    mine, theirs = await add(store, site.id, "1"), await add(store, other.id, "2")

    by_id = await store.record_tracked_event(site.id, cart_add("e1", subscription_id=mine.id), NOW)
    by_endpoint = await store.record_tracked_event(
        site.id, cart_add("e2", endpoint=mine.endpoint), NOW
    )
    assert by_id is not None and by_id[0].subscription_id == mine.id
    assert by_endpoint is not None and by_endpoint[0].subscription_id == mine.id

    for tie in ({"subscription_id": theirs.id}, {"endpoint": theirs.endpoint}):
        assert await store.record_tracked_event(site.id, cart_add("e3", **tie), NOW) is None
    untied = await store.record_tracked_event(site.id, cart_add("e3", external_id="u"), NOW)
    assert untied is not None and untied[1]  # the refused ones stored nothing under e3


async def test_an_event_outlives_its_subscription_untied(store: Store) -> None:
    site, _ = await store.create_site("a", ["https://a.example"])
    sub = await add(store, site.id, "1")
    await store.record_tracked_event(site.id, cart_add(subscription_id=sub.id), NOW)
    assert await store.remove_subscription(site.id, sub.id)
    again = await store.record_tracked_event(site.id, cart_add(external_id="u"), NOW)
    assert again is not None and not again[1]
    assert again[0].subscription_id is None and again[0].external_id is None
