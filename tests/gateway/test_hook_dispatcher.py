"""The hook dispatcher in-process on a SQLite store and a clock the test moves: a failing
receiver is tried again after 5 s, 10 s, 20 s … at most an hour apart; events not taken 24 h
after they happened are dropped and counted; a backlog goes out in batches of 100 in one claim,
oldest first, each signed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pushgate.hooks_out.dispatcher import HookDispatcher
from pushgate.hooks_out.sender import hook_session, post_batch
from pushgate.store import Store, open_store
from pushgate.store.event_hook_rows import EventHook, HookEvent
from tests.gateway.hook_receiver import HookReceiver, hook_receiver

SECRET = "d" * 24
DAY = 24 * 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def receiver() -> AsyncIterator[HookReceiver]:
    async with hook_receiver(SECRET) as receiver:
        yield receiver


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path / 'hooks.db'}") as store:
        yield store


async def a_hook(store: Store, receiver: HookReceiver) -> EventHook:
    site, _ = await store.create_site("news", ["https://news.example"])
    hook = EventHook("eh_1", site.id, receiver.url, ("subscribed",), SECRET, 0.0)
    await store.create_event_hook(hook)
    return hook


async def enqueue(store: Store, hook: EventHook, count: int, at: float) -> None:
    events = [HookEvent("subscribed", at, f"sub-{n:04}") for n in range(count)]
    await store.enqueue_hook_events([(hook.id, e) for e in events])


async def test_failures_back_off_doubling_to_an_hour_and_events_go_after_24_hours(
    store: Store, receiver: HookReceiver
) -> None:
    clock = Clock()
    hook = await a_hook(store, receiver)
    dispatcher = HookDispatcher(store, clock, [receiver.host])
    await enqueue(store, hook, 3, clock.now)
    receiver.fail_next = 10**6
    waits = []
    async with hook_session([receiver.host]) as session:
        while clock.now < 1_000_000.0 + DAY - 3600:
            assert await dispatcher.send_due(session) == 1
            shown = await store.get_event_hook(hook.site_id, hook.id)
            assert shown is not None
            waits.append(shown.backoff)
            clock.now = shown.next_attempt_at - 0.5
            assert await dispatcher.send_due(session) == 0  # not before the backoff
            clock.now += 0.5
        assert waits[:10] == [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560]
        assert set(waits[10:]) == {3600}
        tried = len(receiver.requests)
        clock.now = 1_000_000.0 + DAY + 3600
        await dispatcher.send_due(session)  # due: the events are dropped, nothing is sent
        assert len(receiver.requests) == tried
    shown = await store.get_event_hook(hook.site_id, hook.id)
    assert shown is not None and shown.dropped == 3
    assert await store.hook_outbox(hook.id, 10) == []
    attempts = await store.hook_attempts(hook.id, 200)
    assert len(attempts) == len(waits) == 32  # 10 doubling waits, then hourly: 24 h in all
    assert {a.error for a in attempts} == {"HTTP 500 Internal Server Error"}


async def test_a_backlog_goes_out_in_batches_of_100_in_one_claim(
    store: Store, receiver: HookReceiver
) -> None:
    clock = Clock()
    hook = await a_hook(store, receiver)
    await enqueue(store, hook, 250, clock.now)
    async with hook_session([receiver.host]) as session:
        assert await HookDispatcher(store, clock, [receiver.host]).send_due(session) == 1
    assert [len(batch) for batch in receiver.taken] == [100, 100, 50]
    ids = [e["subscription_id"] for e in receiver.events()]
    assert ids == sorted(ids) and len(set(ids)) == 250
    assert all(r["signed"] for r in receiver.requests)
    assert await store.hook_outbox(hook.id, 10) == []
    shown = await store.get_event_hook(hook.site_id, hook.id)
    assert shown is not None and shown.backoff == 0 and shown.dropped == 0


async def test_a_redirect_is_a_failed_attempt_and_is_not_followed(receiver: HookReceiver) -> None:
    receiver.redirect = True
    async with hook_session([receiver.host]) as session:
        answer = await post_batch(session, receiver.url, SECRET, b'{"events":[]}', [receiver.host])
    assert (answer.status, answer.error) == (307, "HTTP 307 Temporary Redirect")
    assert len(receiver.requests) == 1
