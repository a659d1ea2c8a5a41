"""Store verbs of message A/B tests, on both backends: expansion into the sample (due, with a
variant) and the held rest (never due, no variant), per-variant counts from the rows and their
events, and a winner recorded once, which alone makes the rest due with its variant."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pushgate.content.ab_test import HELD_DUE_AT
from pushgate.store import Store, open_store
from pushgate.store.models import (
    Audience,
    Counts,
    DeliveryRef,
    NewNotification,
    NewSubscription,
    Notification,
)

NOW = 1_800_000_000.0
LEASE = 60.0
TTL = 3600


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    async with open_store(database_url) as opened:
        yield opened


async def _notification(store: Store, count: int) -> tuple[str, Notification]:
    site, _ = await store.create_site("news", ["https://news.example"])
    subs = [NewSubscription(f"https://127.0.0.1:9/push/{i}", "p", "a") for i in range(count)]
    await store.add_subscriptions_bulk(site.id, subs)
    test = {"sample_percent": 50, "winner_after_seconds": 60, "metric": "clicked", "variants": 2}
    new = NewNotification({"title": "t"}, Audience(everyone=True), TTL, ab_test=test)
    notification, _ = await store.create_notification(site.id, new, now=NOW)
    return site.id, notification


def _every_other(before: int, count: int) -> list[int | None]:
    """Subscribers at even positions of the audience in the sample, alternating variants."""
    return [(i // 2) % 2 if i % 2 == 0 else None for i in range(before, before + count)]


async def test_the_sample_is_due_with_its_variant_and_the_rest_held(store: Store) -> None:
    site_id, n = await _notification(store, 8)
    assert n.ab_test is not None and n.winner is None
    read = [await store.expand_audience_split(n, 3, _every_other, (NOW, NOW + TTL), HELD_DUE_AT)]
    read.append(await store.expand_audience_split(n, 10, _every_other, (NOW, NOW + TTL), 1e15))
    assert read == [3, 5]  # the second batch saw the 3 before it: positions 3..7
    claimed = await store.claim_due(n.key, NOW + 10, 100, NOW + LEASE)
    assert sorted(t.variant for t in claimed) == [0, 0, 1, 1]
    assert all(t.expires_at == NOW + TTL for t in claimed)
    shown = await store.get_notification(site_id, n.id)
    assert shown is not None and shown.counts.targeted == 8 and shown.counts.pending == 8

    await store.record_accepted(n.key, [t.subscription_key for t in claimed], 201, now=NOW)
    clicked = [t for t in claimed if t.variant == 1][0]
    ref = DeliveryRef(n.key, clicked.subscription_key, site_id)
    assert await store.record_event(ref, "clicked", None)
    counts = await store.variant_counts(n.key, 2)
    assert [(c.targeted, c.accepted, c.clicked) for c in counts] == [(2, 2, 0), (2, 2, 1)]

    assert await store.record_winner(n.key, 1, NOW + 60)
    assert not await store.record_winner(n.key, 0, NOW + 61)  # once
    rest = await store.claim_due(n.key, NOW + 60, 100, NOW + 60 + LEASE)
    assert len(rest) == 4 and {t.variant for t in rest} == {1}
    counts = await store.variant_counts(n.key, 2)
    assert [c.targeted for c in counts] == [2, 6]
    shown = await store.get_notification(site_id, n.id)
    assert shown is not None and shown.winner == 1


async def test_held_deliveries_are_never_due_before_the_winner(store: Store) -> None:
    _, n = await _notification(store, 4)
    await store.expand_audience_split(n, 10, lambda b, c: [None] * c, (NOW, NOW + TTL), 1e15)
    assert not await store.has_due(n.key, NOW + 30 * 86400)
    assert await store.variant_counts(n.key, 2) == [Counts(), Counts()]


async def test_two_gateways_choosing_at_once_record_one_winner(
    store: Store, database_url: str
) -> None:
    site_id, n = await _notification(store, 6)
    await store.expand_audience_split(n, 10, _every_other, (NOW, NOW + TTL), HELD_DUE_AT)
    async with open_store(database_url) as other:
        recorded = await asyncio.gather(
            store.record_winner(n.key, 0, NOW + 60), other.record_winner(n.key, 1, NOW + 60)
        )
    assert sorted(recorded) == [False, True]
    winner = 0 if recorded[0] else 1
    shown = await store.get_notification(site_id, n.id)
    assert shown is not None and shown.winner == winner
    due = await store.claim_due(n.key, NOW + 60, 100, NOW + 60 + LEASE)  # sample and rest
    assert sum(t.variant == winner for t in due) == 3 + (2 if winner == 0 else 1)
    counts = await store.variant_counts(n.key, 2)
    assert counts[winner].targeted == 3 + (2 if winner == 0 else 1)
