"""Store verbs that let scheduling survive a restart: the throttle's last second read back
from the deliveries themselves (handed_over_since), and quiet hours held again at each claim
for a deferred delivery, whose end of life still counts from its notification. Every test runs
on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest

from pushgate.store import Store, open_store
from pushgate.store.models import Audience, NewNotification, NewSubscription, Notification

NOW = 1_800_000_000.0
LEASE = 60.0
TTL = 3600.0


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    async with open_store(database_url) as opened:
        yield opened


async def _due_now(store: Store, count: int, zone: str | None = None) -> tuple[str, Notification]:
    """A site of `count` subscribers and a notification whose deliveries are all due at NOW."""
    site, _ = await store.create_site("news", ["https://news.example"])
    subs = [
        NewSubscription(f"https://127.0.0.1:9/push/{i}", "p", "a", timezone=zone)
        for i in range(count)
    ]
    await store.add_subscriptions_bulk(site.id, subs)
    new = NewNotification({"title": "t"}, Audience(everyone=True), int(TTL))
    notification, _ = await store.create_notification(site.id, new, now=NOW)
    await store.expand_audience_due(notification, 500, lambda zones: _all_at(zones, NOW))
    return site.id, notification


def _all_at(zones: Sequence[str | None], at: float) -> dict[str | None, tuple[float, float]]:
    return {zone: (at, at + TTL) for zone in zones}


async def _claim(store: Store, n: Notification, now: float, limit: int) -> list[int]:
    claimed = await store.claim_due(n.key, now, limit, now + LEASE)
    return [t.subscription_key for t in claimed]


async def test_handed_over_since_counts_accepted_and_leased_claims_by_their_time(
    store: Store,
) -> None:
    _, n = await _due_now(store, 8)
    first = await _claim(store, n, NOW, 2)
    await store.record_accepted(n.key, first[:1], 201, now=NOW + 0.2)
    second = await _claim(store, n, NOW + 0.5, 2)
    # The other of the first two is still leased: it counts at its claim, NOW.
    assert await store.handed_over_since(n.key, NOW - 0.5, NOW + 0.5, LEASE) == [
        (NOW, 1),
        (NOW + 0.2, 1),
        (NOW + 0.5, 2),
    ]
    # A second later only the second claim is inside the window.
    assert await store.handed_over_since(n.key, NOW + 0.3, NOW + 1.3, LEASE) == [(NOW + 0.5, 2)]
    # A stopping gateway gives its leases back (due now): they count at that moment.
    await store.renew_leases(n.key, second, NOW + 1.4)
    assert await store.handed_over_since(n.key, NOW + 0.45, NOW + 1.45, LEASE) == [(NOW + 1.4, 2)]


async def test_handed_over_since_leaves_out_what_was_not_handed_over(store: Store) -> None:
    _, n = await _due_now(store, 4)  # four due now, none claimed: none handed over
    assert await store.handed_over_since(n.key, NOW - 1, NOW, LEASE) == []
    claimed = await _claim(store, n, NOW, 2)
    await store.defer_deliveries(n.key, claimed[:1], NOW + 0.5)  # back to the store, not sent
    assert await store.handed_over_since(n.key, NOW - 0.5, NOW + 0.5, LEASE) == [(NOW, 1)]
    # An older lease (claimed two seconds ago, lease not yet over) is outside the window.
    assert await store.handed_over_since(n.key, NOW + 1, NOW + 2, LEASE) == []


async def test_a_deferral_due_in_quiet_hours_is_held_to_their_end(store: Store) -> None:
    _, n = await _due_now(store, 3, "Europe/Berlin")
    claimed = await _claim(store, n, NOW, 500)
    await store.defer_deliveries(n.key, claimed, NOW + 30)  # a slow push service's deferral
    quiet_end = NOW + 600
    held = await store.claim_due(
        n.key, NOW + 30, 500, NOW + 30 + LEASE, hold=lambda zones: dict.fromkeys(zones, quiet_end)
    )
    assert held == [] and await store.next_retry_at(n.key) == quiet_end
    again = await store.claim_due(n.key, quiet_end, 500, quiet_end + LEASE)
    assert sorted(t.subscription_key for t in again) == sorted(claimed)
    assert {t.attempts for t in again} == {0}  # holding counted no attempt


async def test_a_delivery_held_past_its_end_of_life_fails_expired(store: Store) -> None:
    site_id, n = await _due_now(store, 2)
    quiet_end = NOW + TTL + 600  # the quiet hours end after the notification's lifetime
    held = await store.claim_due(
        n.key, NOW, 500, NOW + LEASE, hold=lambda zones: dict.fromkeys(zones, quiet_end)
    )
    assert held == []
    assert await store.claim_due(n.key, quiet_end, 500, quiet_end + LEASE) == []
    got = await store.get_notification(site_id, n.id)
    assert got is not None
    assert (got.counts.failed, got.counts.pending, got.counts.accepted) == (2, 0, 0)


async def test_a_small_claim_holds_every_quiet_row_it_reads_and_claims_only_its_limit(
    store: Store,
) -> None:
    """A throttled claim takes two a second; quiet hours beginning under it must not move
    two rows at a time: the claim reads a full batch and holds all it found quiet."""
    site, _ = await store.create_site("news", ["https://news.example"])
    zones = ["Asia/Kolkata"] * 10 + ["Europe/Berlin"] * 10
    subs = [
        NewSubscription(f"https://127.0.0.1:9/push/{i}", "p", "a", timezone=zone)
        for i, zone in enumerate(zones)
    ]
    await store.add_subscriptions_bulk(site.id, subs)
    new = NewNotification({"title": "t"}, Audience(everyone=True), int(TTL))
    n, _ = await store.create_notification(site.id, new, now=NOW)
    await store.expand_audience_due(n, 500, lambda zones: _all_at(zones, NOW))
    quiet_end = NOW + LEASE / 2  # before the leases of what is claimed here run out

    def hold(zones: Sequence[str | None]) -> dict[str | None, float]:
        return {zone: quiet_end if zone == "Asia/Kolkata" else NOW for zone in zones}

    assert len(await store.claim_due(n.key, NOW, 2, NOW + LEASE, hold=hold)) == 2
    # Every Kolkata row was held by that one claim; the other Berlin rows are still due.
    assert len(await store.claim_due(n.key, NOW + 1, 500, NOW + 1 + LEASE)) == 8
    assert len(await store.claim_due(n.key, quiet_end, 500, quiet_end + LEASE)) == 10
