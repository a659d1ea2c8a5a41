"""The delivery engine's store side with many gateways on one PostgreSQL database: two stores
(two pools, as two gateway processes would have) expanding and claiming one notification at
once split its work without duplicating any of it, an outcome recorded twice counts once, a
cancel mid-way neither waits for nor deadlocks with outcome writers, and two creates with one
Idempotency-Key end in one notification."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack

import asyncpg
import pytest

from pushgate.store import IdempotencyConflict, Store, open_store
from pushgate.store.models import (
    Audience,
    DeliveryResult,
    NewNotification,
    NewSubscription,
    Notification,
)

NOW = 1_800_000_000.0
LEASE = 60.0
SUBSCRIBERS = 5_000
BATCH = 250
PROMPTLY = 5.0  # seconds: a verb that waits for another's row lock would take longer


@pytest.fixture
async def two_stores(postgres_url: str) -> AsyncIterator[tuple[Store, Store]]:
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(open_store(postgres_url))
        second = await stack.enter_async_context(open_store(postgres_url))
        yield first, second


@pytest.fixture
async def db(postgres_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the test's own, to look at the tables and to hold locks."""
    conn = await asyncpg.connect(postgres_url)
    yield conn
    await conn.close()


async def _site(store: Store, subscribers: int) -> str:
    site, _ = await store.create_site("news", ["https://news.example"])
    subs = [NewSubscription(f"https://127.0.0.1:9/push/{i}", "p", "a") for i in range(subscribers)]
    assert await store.add_subscriptions_bulk(site.id, subs) == subscribers
    return site.id


async def _notification(store: Store, site_id: str, **fields: object) -> Notification:
    new = NewNotification({"title": "t"}, Audience(everyone=True), 3600, **fields)  # type: ignore[arg-type]
    created, _ = await store.create_notification(site_id, new, now=NOW)
    return created


async def _counts(store: Store, n: Notification) -> dict[str, int]:
    got = await store.get_notification(n.site_id, n.id)
    assert got is not None
    return got.counts.to_json()


def _all_due(zones: Sequence[str | None]) -> dict[str | None, tuple[float, float]]:
    return {zone: (NOW, NOW + 3600) for zone in zones}


async def _expand(store: Store, n: Notification) -> list[int]:
    """One gateway expanding a plain broadcast to the end, as its run does."""
    taken: list[int] = []
    while True:
        batch = await store.expand_audience(n, BATCH, NOW + LEASE)
        taken += [t.subscription_key for t in batch]
        if len(batch) < BATCH:
            return taken


async def _expand_and_claim(store: Store, n: Notification) -> list[int]:
    """One gateway running a scheduled notification: expand a batch, claim what is due."""
    taken: list[int] = []
    expanded = False
    while True:
        if not expanded:
            expanded = await store.expand_audience_due(n, BATCH, _all_due) < BATCH
        batch = await store.claim_due(n.key, NOW, BATCH, NOW + LEASE)
        taken += [t.subscription_key for t in batch]
        if expanded and not batch:
            return taken


def _split(first: list[int], second: list[int], everyone: set[int]) -> None:
    """Disjoint, together everyone, and both did part of it (they really ran together)."""
    assert len(first) == len(set(first)) and len(second) == len(set(second))
    assert not set(first) & set(second)
    assert set(first) | set(second) == everyone
    assert first and second


async def _waiting_for_locks(db: asyncpg.Connection, count: int) -> None:
    for _ in range(500):
        waiting = await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if waiting >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} transactions never waited for a lock")


async def _subscription_keys(db: asyncpg.Connection) -> set[int]:
    return {r[0] for r in await db.fetch("SELECT key FROM subscriptions")}


async def test_two_gateways_expanding_one_broadcast_split_it_exactly(
    two_stores: tuple[Store, Store], db: asyncpg.Connection
) -> None:
    first, second = two_stores
    site_id = await _site(first, SUBSCRIBERS)
    n = await _notification(first, site_id)
    mine, theirs = await asyncio.gather(_expand(first, n), _expand(second, n))
    _split(mine, theirs, await _subscription_keys(db))
    counts = await _counts(first, n)
    assert (counts["targeted"], counts["pending"]) == (SUBSCRIBERS, SUBSCRIBERS)
    assert await db.fetchval("SELECT count(*) FROM deliveries") == SUBSCRIBERS


async def test_two_gateways_expanding_and_claiming_take_disjoint_sets_of_everyone(
    two_stores: tuple[Store, Store], db: asyncpg.Connection
) -> None:
    first, second = two_stores
    site_id = await _site(first, SUBSCRIBERS)
    n = await _notification(first, site_id, deliver_at_local="07:00")
    mine, theirs = await asyncio.gather(_expand_and_claim(first, n), _expand_and_claim(second, n))
    _split(mine, theirs, await _subscription_keys(db))
    assert (await _counts(first, n))["targeted"] == SUBSCRIBERS
    assert not await first.has_due(n.key, NOW + LEASE - 1)  # every one is leased
    await asyncio.gather(
        first.record_accepted(n.key, mine, 201, NOW + 1),
        second.record_accepted(n.key, theirs, 201, NOW + 1),
    )
    counts = await _counts(second, n)
    assert (counts["accepted"], counts["pending"]) == (SUBSCRIBERS, 0)


async def test_expansion_counts_and_returns_only_the_deliveries_it_inserted(
    two_stores: tuple[Store, Store], db: asyncpg.Connection
) -> None:
    first, _ = two_stores
    site_id = await _site(first, 10)
    n = await _notification(first, site_id)
    there = sorted(await _subscription_keys(db))[3]
    await db.execute(
        "INSERT INTO deliveries (notification_key, subscription_key, state) "
        "VALUES ($1, $2, 'pending')",
        n.key,
        there,
    )
    batch = await first.expand_audience(n, 500, NOW + LEASE)
    assert len(batch) == 9 and there not in {t.subscription_key for t in batch}
    assert (await _counts(first, n))["targeted"] == 9


async def test_a_claim_passes_over_rows_another_gateway_holds_without_waiting(
    two_stores: tuple[Store, Store], db: asyncpg.Connection
) -> None:
    first, _ = two_stores
    site_id = await _site(first, 10)
    n = await _notification(first, site_id, deliver_at_local="07:00")
    await first.expand_audience_due(n, 500, _all_due)
    async with db.transaction():  # another gateway in the middle of claiming four of them
        held = await db.fetch(
            "SELECT subscription_key FROM deliveries ORDER BY subscription_key LIMIT 4 FOR UPDATE"
        )
        claim = first.claim_due(n.key, NOW, 500, NOW + LEASE)
        claimed = await asyncio.wait_for(claim, PROMPTLY)
    assert len(claimed) == 6
    assert not {r[0] for r in held} & {t.subscription_key for t in claimed}


async def test_a_starting_gateway_frees_no_lease_another_holds(
    two_stores: tuple[Store, Store],
) -> None:
    first, second = two_stores
    site_id = await _site(first, 3)
    n = await _notification(first, site_id, deliver_at_local="07:00")
    await first.expand_audience_due(n, 500, _all_due)
    assert len(await first.claim_due(n.key, NOW, 500, NOW + LEASE)) == 3
    await second.release_leases()  # the second gateway starts while the first is sending
    assert await second.claim_due(n.key, NOW + 1, 500, NOW + 1 + LEASE) == []
    # The first gateway died: its lease lapses, and the second takes its work over.
    assert len(await second.claim_due(n.key, NOW + LEASE, 500, NOW + 2 * LEASE)) == 3


async def test_an_outcome_recorded_twice_by_two_gateways_counts_once(
    two_stores: tuple[Store, Store], db: asyncpg.Connection
) -> None:
    first, second = two_stores
    site_id = await _site(first, 400)
    n = await _notification(first, site_id)
    keys = await _expand(first, n)
    accepted, rest = keys[:200], keys[200:]
    results = [
        DeliveryResult(n.key, key, state, status, reason)
        for key, (state, status, reason) in zip(
            rest, [("gone", 410, "gone"), ("failed", 400, "bad request")] * 100, strict=True
        )
    ]
    await asyncio.gather(
        first.record_accepted(n.key, accepted, 201, NOW),
        second.record_accepted(n.key, accepted, 201, NOW),
        first.record_results(results, NOW),
        second.record_results(results, NOW),
        second.record_accepted(n.key, rest, 201, NOW),  # a third writer races for the rest
    )
    counts = await _counts(first, n)
    assert counts["accepted"] + counts["gone"] + counts["failed"] == 400
    assert counts["accepted"] >= 200 and counts["pending"] == 0
    rows = await db.fetch("SELECT state, count(*) FROM deliveries GROUP BY state")
    assert {r[0]: r[1] for r in rows} == {
        state: counts[state] for state in ("accepted", "gone", "failed") if counts[state]
    }
    assert await db.fetchval("SELECT min(attempts) = 1 AND max(attempts) = 1 FROM deliveries")
    assert await db.fetchval("SELECT count(*) FROM subscriptions") == 400 - counts["gone"]


async def test_an_outcome_written_while_another_gateway_writes_it_counts_once(
    two_stores: tuple[Store, Store], db: asyncpg.Connection, postgres_url: str
) -> None:
    first, second = two_stores
    site_id = await _site(first, 10)
    n = await _notification(first, site_id)
    keys = await _expand(first, n)
    gone = [DeliveryResult(n.key, key, "gone", 410, "gone") for key in keys[5:]]
    other = await asyncpg.connect(postgres_url)
    try:
        async with other.transaction():  # a gateway recording all ten, not yet committed
            await other.execute(
                "UPDATE deliveries SET state = 'accepted' WHERE notification_key = $1", n.key
            )
            await other.execute(
                "UPDATE notifications SET accepted = accepted + 10 WHERE key = $1", n.key
            )
            late = asyncio.gather(
                first.record_accepted(n.key, keys[:5], 201, NOW), second.record_results(gone)
            )
            await _waiting_for_locks(db, 2)
        await asyncio.wait_for(late, PROMPTLY)
    finally:
        await other.close()
    counts = await _counts(first, n)
    assert (counts["accepted"], counts["gone"], counts["pending"]) == (10, 0, 0)
    assert await db.fetchval("SELECT count(*) FROM subscriptions") == 10


async def test_an_outcome_written_while_another_gateway_renews_some_of_its_leases_counts_all(
    two_stores: tuple[Store, Store], db: asyncpg.Connection, postgres_url: str
) -> None:
    """A renewal gives a row a new version after record_accepted's snapshot: the row is
    still accepted (not left pending, to go out again), and counted once."""
    first, _ = two_stores
    site_id = await _site(first, 10)
    n = await _notification(first, site_id)
    keys = sorted(await _expand(first, n))
    other = await asyncpg.connect(postgres_url)
    try:
        async with other.transaction():  # a renewal of three of the leases, not yet committed
            await other.execute(
                "UPDATE deliveries SET next_attempt_at = $1 WHERE notification_key = $2 "
                "AND subscription_key = ANY($3::bigint[])",
                NOW + 2 * LEASE,
                n.key,
                keys[2:5],
            )
            late = asyncio.ensure_future(first.record_accepted(n.key, keys, 201, NOW))
            await _waiting_for_locks(db, 1)
        await asyncio.wait_for(late, PROMPTLY)
    finally:
        await other.close()
    counts = await _counts(first, n)
    assert (counts["accepted"], counts["pending"]) == (10, 0)
    rows = await db.fetch("SELECT state, attempts, count(*) FROM deliveries GROUP BY 1, 2")
    assert [tuple(r) for r in rows] == [("accepted", 1, 10)]


async def test_cancel_mid_way_while_two_gateways_send_settles_every_delivery_once(
    two_stores: tuple[Store, Store], db: asyncpg.Connection
) -> None:
    first, second = two_stores
    site_id = await _site(first, SUBSCRIBERS)
    n = await _notification(first, site_id, deliver_at_local="07:00")
    while await first.expand_audience_due(n, 1000, _all_due) == 1000:
        pass
    started = asyncio.Event()

    async def send(store: Store) -> list[int]:
        sent: list[int] = []
        while batch := await store.claim_due(n.key, NOW, BATCH, NOW + LEASE):
            keys = [t.subscription_key for t in batch]
            await store.record_accepted(n.key, keys, 201, NOW + 1)
            sent += keys
            started.set()
        return sent

    async def cancel() -> Notification | None:
        await started.wait()
        return await first.cancel_notification(site_id, n.id, from_statuses=("sending",))

    mine, theirs, cancelled = await asyncio.wait_for(
        asyncio.gather(send(first), send(second), cancel()), 60
    )
    assert cancelled is not None and cancelled.status == "cancelled"
    assert not set(mine) & set(theirs)
    counts = await _counts(first, n)
    assert counts["accepted"] == len(mine) + len(theirs) < SUBSCRIBERS
    assert counts["cancelled"] == SUBSCRIBERS - counts["accepted"] and counts["pending"] == 0
    assert await db.fetchval("SELECT count(*) FROM deliveries WHERE state = 'pending'") == 0


async def test_cancel_passes_over_deliveries_an_outcome_writer_holds_and_neither_deadlocks(
    two_stores: tuple[Store, Store], postgres_url: str
) -> None:
    first, _ = two_stores
    site_id = await _site(first, 10)
    n = await _notification(first, site_id)
    keys = await _expand(first, n)
    await first.defer_deliveries(n.key, keys, NOW)  # no longer leased: cancel may take them
    writer = await asyncpg.connect(postgres_url)
    try:
        # Another gateway's record_accepted, half way: its delivery rows are written, its
        # counter (the notification row, which the cancel holds next) not yet.
        tx = writer.transaction()
        await tx.start()
        await writer.execute(
            "UPDATE deliveries SET state = 'accepted' WHERE notification_key = $1 "
            "AND subscription_key = ANY($2::bigint[])",
            n.key,
            keys[:4],
        )
        cancel = first.cancel_notification(site_id, n.id, from_statuses=("sending",))
        cancelled = await asyncio.wait_for(cancel, PROMPTLY)
        assert cancelled is not None and cancelled.counts.cancelled == 6
        await writer.execute(
            "UPDATE notifications SET accepted = accepted + 4 WHERE key = $1", n.key
        )
        await tx.commit()
    finally:
        await writer.close()
    counts = await _counts(first, n)
    assert (counts["accepted"], counts["cancelled"], counts["pending"]) == (4, 6, 0)


async def test_two_creates_with_one_idempotency_key_end_in_one_notification(
    two_stores: tuple[Store, Store], db: asyncpg.Connection
) -> None:
    first, second = two_stores
    site_id = await _site(first, 0)
    for i in range(20):
        new = NewNotification(
            {"title": "t"}, Audience(everyone=True), 60, idempotency_key=f"k{i}", request_hash="h"
        )
        (one, made_one), (two, made_two) = await asyncio.gather(
            first.create_notification(site_id, new), second.create_notification(site_id, new)
        )
        assert one == two and sorted([made_one, made_two]) == [False, True]
    assert await db.fetchval("SELECT count(*) FROM notifications") == 20


async def test_a_create_racing_an_uncommitted_one_answers_with_it_or_conflicts(
    two_stores: tuple[Store, Store], db: asyncpg.Connection
) -> None:
    first, _ = two_stores
    site_id = await _site(first, 0)
    same = NewNotification({}, Audience(everyone=True), 60, idempotency_key="k", request_hash="h")
    other = NewNotification({}, Audience(everyone=True), 60, idempotency_key="k", request_hash="x")
    async with db.transaction():  # another gateway's create, not yet committed
        await db.execute(
            "INSERT INTO notifications (id, site_id, payload, audience, ttl, idempotency_key, "
            "request_hash, created_at) VALUES ('theirs', $1, '{}', '{\"all\": true}', 60, 'k', "
            "'h', $2)",
            site_id,
            NOW,
        )
        racing = asyncio.gather(
            first.create_notification(site_id, same),
            first.create_notification(site_id, other),
            return_exceptions=True,
        )
        await asyncio.sleep(0.2)  # both wait for the other transaction to end
        assert not racing.done()
    answered, conflicted = await asyncio.wait_for(racing, PROMPTLY)
    assert not isinstance(answered, BaseException)
    assert answered[0].id == "theirs" and answered[1] is False
    assert isinstance(conflicted, IdempotencyConflict)
