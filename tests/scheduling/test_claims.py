"""Store verbs of scheduled delivery: due times written per zone, claims that decide the
frequency cap and end of life in the same transaction, cancellation, and a restart's release
of leases (SQLite; on PostgreSQL a lease lapses by time) that leaves scheduled deliveries
scheduled. Every test runs on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest

from pushgate.store import Store, open_store
from pushgate.store.models import Audience, NewNotification, NewSubscription, Notification
from pushgate.store.postgres import PostgresStore

NOW = 1_800_000_000.0
DAY = 86400.0
LEASE = 300.0
ZONES = ("Asia/Kolkata", "Europe/Berlin", None)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    async with open_store(database_url) as opened:
        yield opened


async def _site_with(store: Store, zones: Sequence[str | None]) -> str:
    site, _ = await store.create_site("news", ["https://news.example"])
    subs = [
        NewSubscription(f"https://127.0.0.1:9/push/{i}", "p", "a", timezone=zone)
        for i, zone in enumerate(zones)
    ]
    await store.add_subscriptions_bulk(site.id, subs)
    return site.id


async def _notification(store: Store, site_id: str, **fields: object) -> Notification:
    new = NewNotification({"title": "t"}, Audience(everyone=True), 3600, **fields)  # type: ignore[arg-type]
    created, _ = await store.create_notification(site_id, new, now=NOW)
    return created


def _plan_by_zone(dues: dict[str | None, float]):  # type: ignore[no-untyped-def]
    return lambda zones: {z: (dues[z], dues[z] + 3600) for z in zones}


async def test_expansion_writes_due_times_per_zone_and_claims_only_what_is_due(
    store: Store,
) -> None:
    site_id = await _site_with(store, ["Asia/Kolkata", None, "Asia/Kolkata", "Europe/Berlin"])
    n = await _notification(store, site_id, deliver_at_local="07:00")
    assert n.status == "scheduled"
    plan = _plan_by_zone({"Asia/Kolkata": NOW + 10, None: NOW + 20, "Europe/Berlin": NOW + 30})
    assert await store.expand_audience_due(n, 500, plan) == 4
    assert await store.claim_due(n.key, NOW, 500, NOW + LEASE) == []
    first = await store.claim_due(n.key, NOW + 10, 500, NOW + 10 + LEASE)
    assert len(first) == 2 and {t.expires_at for t in first} == {NOW + 10 + 3600}
    got = await store.get_notification(site_id, n.id)
    assert got is not None and got.status == "sending" and got.counts.targeted == 4
    # Claimed deliveries are leased: not due again while an engine holds them.
    assert len(await store.claim_due(n.key, NOW + 30, 500, NOW + 30 + LEASE)) == 2
    assert await store.claim_due(n.key, NOW + 31, 500, NOW + 31 + LEASE) == []


async def test_restart_or_lapsed_lease_frees_claimed_deliveries_and_keeps_scheduled_ones(
    store: Store,
) -> None:
    site_id = await _site_with(store, ["Asia/Kolkata", "Europe/Berlin"])
    n = await _notification(store, site_id, deliver_at_local="07:00")
    await store.expand_audience_due(
        n, 500, _plan_by_zone({"Asia/Kolkata": NOW, "Europe/Berlin": NOW + DAY / 2})
    )
    assert len(await store.claim_due(n.key, NOW, 500, NOW + LEASE)) == 1
    await store.release_leases()
    retake = NOW + 1  # SQLite: the restarted process was the only one, what it held is free
    if isinstance(store, PostgresStore):
        # Other gateways may be alive and hold their leases: none is freed, a lease lapses.
        assert await store.claim_due(n.key, NOW + 1, 500, NOW + 1 + LEASE) == []
        retake = NOW + LEASE
    again = await store.claim_due(n.key, retake, 500, retake + LEASE)
    assert len(again) == 1  # the one taken before the "crash" is due again
    await store.record_accepted(n.key, [again[0].subscription_key], 201, retake)
    assert await store.next_retry_at(n.key) == NOW + DAY / 2  # the other is not released


async def test_frequency_cap_counts_accepted_within_the_rolling_window(store: Store) -> None:
    site_id = await _site_with(store, [None, None])
    cap = (2, DAY)
    keys = []
    for sent_at in (NOW - DAY - 1, NOW - DAY / 2, NOW - 60):  # the first is out of the window
        n = await _notification(store, site_id)
        targets = await store.expand_audience(n, 500, NOW + LEASE)
        keys = [t.subscription_key for t in targets]
        await store.record_accepted(n.key, keys[:1], 201, sent_at)  # only the first subscriber
    capped = await _notification(store, site_id)
    await store.expand_audience_due(capped, 500, _plan_by_zone({None: NOW}))
    claimed = await store.claim_due(capped.key, NOW, 500, NOW + LEASE, cap=cap)
    assert [t.subscription_key for t in claimed] == keys[1:]
    got = await store.get_notification(site_id, capped.id)
    assert got is not None and (got.counts.capped, got.counts.pending) == (1, 1)
    # A day later the window has rolled past two of them.
    later = await _notification(store, site_id)
    await store.expand_audience_due(later, 500, _plan_by_zone({None: NOW + DAY / 2 + 1}))
    assert len(await store.claim_due(later.key, NOW + DAY / 2 + 1, 500, NOW + DAY, cap=cap)) == 2


async def test_a_hold_moves_due_deliveries_of_quiet_zones_and_claims_the_rest(
    store: Store,
) -> None:
    site_id = await _site_with(store, ["Asia/Kolkata", "Europe/Berlin", None])
    n = await _notification(store, site_id)
    await store.expand_audience_due(n, 500, _plan_by_zone(dict.fromkeys(ZONES, NOW)))
    quiet_end = {"Asia/Kolkata": NOW + 600, "Europe/Berlin": NOW, None: NOW + 60}
    seen: list[set[str | None]] = []

    def hold(zones: Sequence[str | None]) -> dict[str | None, float]:
        seen.append(set(zones))
        return {zone: quiet_end[zone] for zone in zones}

    claimed = await store.claim_due(n.key, NOW, 500, NOW + DAY, hold=hold)
    assert len(claimed) == 1 and seen == [set(ZONES)]  # Berlin's quiet hours had ended
    got = await store.get_notification(site_id, n.id)
    assert got is not None and got.counts.pending == 3 and got.counts.failed == 0
    assert await store.next_retry_at(n.key) == NOW + 60  # held, not leased, no attempt counted
    assert await store.claim_due(n.key, NOW + 59, 500, NOW + DAY) == []
    assert len(await store.claim_due(n.key, NOW + 60, 500, NOW + DAY)) == 1
    again = await store.claim_due(n.key, NOW + 600, 500, NOW + DAY)
    assert [t.attempts for t in again] == [0]


async def test_expired_deliveries_fail_at_claim_with_reason_expired(store: Store) -> None:
    site_id = await _site_with(store, ["Asia/Kolkata"])
    n = await _notification(store, site_id, deliver_at_local="07:00")
    await store.expand_audience_due(n, 500, lambda zones: {z: (NOW, NOW + 5) for z in zones})
    assert await store.claim_due(n.key, NOW + 5, 500, NOW + LEASE) == []
    got = await store.get_notification(site_id, n.id)
    assert got is not None and (got.counts.failed, got.counts.pending) == (1, 0)


async def test_cancel_before_start_targets_nobody(store: Store) -> None:
    site_id = await _site_with(store, [None, None, None])
    n = await _notification(store, site_id, deliver_at_local="07:00")
    await store.expand_audience_due(n, 2, _plan_by_zone({None: NOW + 60}))
    got = await store.cancel_notification(site_id, n.id, from_statuses=("scheduled",))
    assert got is not None and got.status == "cancelled"
    assert got.counts.to_json()["targeted"] == 0 and got.counts.pending == 0
    assert await store.expand_audience_due(n, 500, _plan_by_zone({None: NOW})) == 0
    assert await store.claim_due(n.key, NOW + 60, 500, NOW + LEASE) == []


async def test_cancel_mid_way_counts_the_rest_cancelled_and_leaves_held_ones(
    store: Store,
) -> None:
    site_id = await _site_with(store, [None] * 5)
    n = await _notification(store, site_id)
    await store.expand_audience_due(n, 500, _plan_by_zone({None: NOW}))
    held = await store.claim_due(n.key, NOW, 2, NOW + LEASE)
    got = await store.cancel_notification(site_id, n.id, from_statuses=("sending",))
    assert got is not None and got.status == "cancelled"
    assert (got.counts.cancelled, got.counts.pending) == (3, 2)
    await store.record_accepted(n.key, [t.subscription_key for t in held], 201, NOW + 1)
    got = await store.get_notification(site_id, n.id)
    assert got is not None
    counts = got.counts
    assert (counts.accepted, counts.cancelled, counts.pending, counts.targeted) == (2, 3, 0, 5)
    # Done notifications are not cancelled: the caller's statuses decide.
    again = await store.cancel_notification(site_id, n.id, from_statuses=())
    assert again is not None and again.status == "cancelled"


async def test_list_notifications_by_status_in_pages(store: Store) -> None:
    site_id = await _site_with(store, [])
    made = [await _notification(store, site_id, send_at=NOW + 60) for _ in range(3)]
    await _notification(store, site_id)  # queued
    page, cursor = await store.list_notifications(site_id, status="scheduled", limit=2, after=0)
    assert [n.id for n in page] == [m.id for m in made[:2]] and cursor is not None
    rest, end = await store.list_notifications(site_id, status="scheduled", limit=2, after=cursor)
    assert [n.id for n in rest] == [made[2].id] and end is None
    assert len((await store.list_notifications(site_id, status=None, limit=9, after=0))[0]) == 4


async def test_scheduled_notification_is_active_only_from_send_at(store: Store) -> None:
    site_id = await _site_with(store, [])
    n = await _notification(store, site_id, send_at=NOW + 60)
    assert n.key not in {a.key for a in await store.active_notifications(NOW)}
    assert n.key in {a.key for a in await store.active_notifications(NOW + 60)}
