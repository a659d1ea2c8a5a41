"""The in-flight window per push service (pacing.py): driven round by round with an injected
clock, and through the push client against a loopback service that answers late."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from pushgate.webpush.pacing import INITIAL_WINDOW, Window
from pushgate.webpush.responses import Verdict
from pushgate.webpush.sender import PushClient
from tests.webpush.scripted_server import CREATED, Peer, ScriptedServer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fill(window: Window, want: int) -> list[int]:
    """Start up to `want` requests, as many as the window lets; asking for more than it
    lets marks the round limited, as a request waiting for room does."""
    numbers = []
    for _ in range(want):
        number = window.try_acquire()
        if number is None:
            break
        numbers.append(number)
    return numbers


def run_rounds(window: Window, clock: Clock, rounds: int, latency: Callable[[int], float]) -> None:
    """Each round: as many requests as the window allows (more are always waiting), all
    answered `latency(in flight)` seconds later."""
    for _ in range(rounds):
        numbers = fill(window, 10_000)
        seconds = latency(len(numbers))
        clock.now += seconds
        for number in numbers:
            window.release(number, seconds)


def test_far_service_window_doubles_each_round_trip_up_to_the_maximum() -> None:
    clock = Clock()
    window = Window(400, clock=clock)
    assert window.size == INITIAL_WINDOW
    sizes = []
    for _ in range(8):
        run_rounds(window, clock, 1, lambda in_flight: 0.050)
        sizes.append(window.size)
    # 50 ms whatever the concurrency: every doubling doubles the rate, until the maximum.
    assert sizes == [16, 32, 64, 128, 256, 400, 400, 400]


def test_service_whose_latency_grows_with_concurrency_keeps_a_window_near_its_need() -> None:
    # A service that takes 1,000 requests a second at most, 20 ms away: beyond 20 in flight
    # requests only queue (Little's law), so the window stops near that, far below 400.
    clock = Clock()
    window = Window(400, clock=clock)
    run_rounds(window, clock, 40, lambda in_flight: max(0.020, in_flight / 1000))
    assert 20 <= window.size <= 64
    assert window.floor == pytest.approx(0.020)


def test_window_that_holds_nothing_back_does_not_grow() -> None:
    clock = Clock()
    window = Window(400, clock=clock)
    for _ in range(20):  # 3 requests per round trip: the window of 8 never fills
        numbers = fill(window, 3)
        clock.now += 0.050
        for number in numbers:
            window.release(number, 0.050)
    assert window.size == INITIAL_WINDOW


def test_rounds_with_failures_hold_the_window() -> None:
    clock = Clock()
    window = Window(400, clock=clock)
    for _ in range(10):
        numbers = fill(window, 10_000)
        clock.now += 0.050
        for number in numbers:
            window.release(number, 0.0)  # no answer: a timeout or a network error
    assert window.size == INITIAL_WINDOW


def test_window_never_exceeds_a_small_maximum() -> None:
    clock = Clock()
    window = Window(3, clock=clock)
    assert window.size == 3
    run_rounds(window, clock, 10, lambda in_flight: 0.050)
    assert window.size == 3 and window.in_flight == 0
    assert len(fill(window, 10)) == 3


async def test_waiters_get_room_in_order_and_a_cancelled_one_gives_it_back() -> None:
    window = Window(2, clock=Clock())
    first, second = window.try_acquire(), window.try_acquire()
    assert (first, second) == (0, 1) and window.try_acquire() is None
    waiters = [asyncio.create_task(window.acquire()) for _ in range(3)]
    await asyncio.sleep(0)
    waiters[0].cancel()
    window.release(first, 0.01)
    window.release(second, 0.01)
    assert await waiters[1] == 2 and await waiters[2] == 3
    assert waiters[0].cancelled() and window.in_flight == 2


# --- through the push client, against a loopback push service --------------------------

LATE_SECONDS = 0.050


async def answer_late(peer: Peer) -> None:
    """A push service 50 ms away: each answer comes 50 ms after its request."""
    while (seen := await peer.read_request()) is not None:
        await asyncio.sleep(LATE_SECONDS)
        await peer.send(CREATED, to=seen)


async def send_all(server: ScriptedServer, count: int) -> tuple[list[Verdict], int]:
    """`count` messages at once through one push client; their verdicts, and the window the
    origin ended with."""
    async with PushClient(timeout_seconds=30, max_in_flight_per_host=400, pace=True) as client:
        headers = client.headers("vapid t=x, k=y", 60, None, None)
        sends = [client.send(server.url(f"/push/{i}"), b"encrypted", headers) for i in range(count)]
        outcomes = await asyncio.gather(*sends)
        return [o.verdict for o in outcomes], client.window(server.url("/push/0")).size


async def test_late_push_service_gets_a_window_grown_to_its_rate_need() -> None:
    async with ScriptedServer(default=answer_late) as server:
        verdicts, size = await send_all(server, 3000)
    assert verdicts == [Verdict.ACCEPTED] * 3000
    # Little's law: 3,000 answers within a few seconds, 50 ms each, need well over the initial
    # window in flight; it grew (doubling per round trip) instead of staying at 8.
    assert size >= 8 * INITIAL_WINDOW
    # HTTP/1.1: one connection per request in flight, opened as the window grew.
    assert INITIAL_WINDOW < server.connections <= 400


async def test_loopback_push_service_gets_no_more_connections_than_it_needs() -> None:
    async with ScriptedServer() as server:  # answers at once
        verdicts, size = await send_all(server, 3000)
    assert verdicts == [Verdict.ACCEPTED] * 3000
    # The answers come within a few ms (a Python server in a thread, its latency noisy on a
    # loaded machine), so the window may probe a few doublings, and takes back what did not
    # pay: 64 connections on a quiet machine, up to 256 with two more copies of this test
    # running beside it; never the 400 allowed, which an unpaced client opens (238-400 here).
    assert server.connections <= 32 * INITIAL_WINDOW and size <= 32 * INITIAL_WINDOW
