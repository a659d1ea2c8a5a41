"""How many requests one push service gets at once: a window that follows its latency and rate.

A fixed in-flight limit is wrong both ways. On HTTP/1.1 each request in flight holds a TLS
connection of its own, so a push service next door, which answers in a millisecond, would be
sent a flood of handshakes it never needed; one 50 ms away needs rate x 50 ms requests in
flight (Little's law) to keep the sender busy. So each origin gets a window that starts small
and grows, as TCP's slow start does, by doubling once per round trip while two things hold:
the window was what held requests back (they waited for a slot), and the round's answers came
about as fast as the fastest seen (the latency stays near its floor: more requests are not
queueing anywhere, neither at the push service nor in our own busy event loop). When STALL_ROUNDS
such rounds in a row did not raise the rate by RATE_GAIN over the best so far, the window goes
back to twice the one that measured the best (headroom over rate x latency), and grows again
only PROBE_ROUNDS rounds later. It never passes the configured maximum
(`--max-in-flight-per-host`).

A round is one round trip of requests, timed as BBR times them: it ends when a request sent
after it began is answered. On HTTP/1.1 the window bounds the connections opened (a request
opens one only when none is idle); on HTTP/2 the streams in flight.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

INITIAL_WINDOW = 8  # requests in flight to an origin before it has answered a round
LATENCY_SLACK = 1.5  # a round's mean latency up to this many times the floor is "near" it
LATENCY_SLACK_SECONDS = 0.0005  # plus this much: timer and scheduling noise on fast answers
RATE_GAIN = 1.25  # a rate this much above the best so far: more concurrency paid
STALL_ROUNDS = 3  # limited rounds without such a gain: the window goes back to 2x the best's
PROBE_ROUNDS = 8  # rounds after that before the window may grow again
FLOOR_ROUNDS = 64  # the latency floor: the lowest mean latency of this many recent rounds


class Window:
    """The in-flight window of one origin: `acquire` before a request, `release` after it."""

    def __init__(
        self,
        maximum: int,
        *,
        initial: int = INITIAL_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.maximum = max(1, maximum)
        self.size = min(self.maximum, max(1, initial))
        self.in_flight = 0
        self._clock = clock
        self._queue: deque[asyncio.Future[int]] = deque()
        self._sent = 0  # requests started: each one's number marks the round it belongs to
        self._floors: deque[float] = deque(maxlen=FLOOR_ROUNDS)  # each round's mean latency
        self._round = _Round(0, clock(), self.size)
        self._rounds = 0
        self._previous_size = self.size  # the window of the round before the current one
        self._best_rate = 0.0  # answers a second, the last that rose by RATE_GAIN
        self._best_size = self.size  # the window that measured it
        self._stalls = 0  # limited rounds since, none of them faster by RATE_GAIN
        self._next_probe = 0  # the round from which the window may grow again

    @property
    def floor(self) -> float | None:
        """The lowest mean latency of recent rounds, in seconds (None before any answer). A
        round's mean, not its fastest answer: under load every answer also waits for our own
        event loop, which is no reason to hold back."""
        return min(self._floors) if self._floors else None

    def try_acquire(self) -> int | None:
        """A request's number if the window has room now (the fast path), else None."""
        if self.in_flight < self.size and not self._queue:
            return self._start()
        self._round.limited = True
        return None

    async def acquire(self) -> int:
        """Wait for room, first come first served; the request's number for `release`."""
        number = self.try_acquire()
        if number is not None:
            return number
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.in_flight -= 1  # room was handed over just as the request was cancelled
                self._hand_on()
            raise

    def release(self, number: int, seconds: float) -> None:
        """Request `number` ended; `seconds` the push service took to answer (0.0: no answer,
        which holds the window where it is for that round)."""
        self.in_flight -= 1
        current = self._round
        if seconds > 0.0:
            current.answers += 1
            current.total += seconds
        else:
            current.failed = True
        if self._queue:  # requests are waiting for room: the window holds them back
            current.limited = True
        if number >= current.first:  # sent after the round began: one round trip is over
            self._close_round()
        self._hand_on()

    def _start(self) -> int:
        self.in_flight += 1
        self._sent += 1
        return self._sent - 1

    def _hand_on(self) -> None:
        while self._queue and self.in_flight < self.size:
            waiter = self._queue.popleft()
            if not waiter.done():
                waiter.set_result(self._start())

    def _close_round(self) -> None:
        done, now = self._round, self._clock()
        self._round = _Round(self._sent, now, self.size)
        self._rounds += 1
        if not done.answers or done.failed:
            return
        self._floors.append(done.total / done.answers)
        # The answers of a round are those of requests sent in the round before: its window
        # is the one this rate measures.
        rate, sent_with = done.answers / max(now - done.started, 1e-6), self._previous_size
        self._previous_size = done.size
        if rate >= RATE_GAIN * self._best_rate:
            self._best_rate, self._best_size, self._stalls = rate, sent_with, 0
        elif done.limited:
            self._stalls += 1
            if self._stalls >= STALL_ROUNDS:  # more requests at once no longer went faster
                self.size = max(1, min(self.size, 2 * self._best_size))
                self._best_rate, self._stalls = rate, 0
                self._next_probe = self._rounds + PROBE_ROUNDS
                return
        if done.limited and self._near_floor(done) and self._rounds >= self._next_probe:
            self.size = min(self.maximum, 2 * self.size)

    def _near_floor(self, done: _Round) -> bool:
        floor = self.floor
        mean = done.total / done.answers
        return floor is not None and mean <= LATENCY_SLACK * floor + LATENCY_SLACK_SECONDS


class _Round:
    """What one round trip's answers showed."""

    __slots__ = ("answers", "failed", "first", "limited", "size", "started", "total")

    def __init__(self, first: int, started: float, size: int) -> None:
        self.first = first  # the number of the first request sent in this round
        self.started = started
        self.size = size  # the window as the round began
        self.answers = 0
        self.total = 0.0  # seconds, summed over the answers
        self.failed = False  # a request ended without an answer (timeout, network error)
        self.limited = False  # a request had to wait for room
