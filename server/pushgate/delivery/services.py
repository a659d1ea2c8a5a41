"""Each push service's health as the engine sees it: latency, timeout, circuit, budget.

A push service is an endpoint origin (FCM, autopush, Apple, WNS, …). One that is slow or down
must only slow its own subscribers: each gets its own budget of messages in flight, a timeout
that follows its measured latency, and a circuit that stops sending to it after repeated
failures, probes it with a few messages now and then, and closes when it answers again.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit

log = logging.getLogger("pushgate.delivery")

MAX_TIMEOUT_SECONDS = 60.0
LATENCY_FACTOR = 3.0  # time out at this many times the measured latency (at least the setting)
TIMEOUT_GROWTH = 3.0  # a timed-out message's service gets this much longer next time
LATENCY_SMOOTHING = 0.2  # weight of each new batch's mean in the moving average
PROBE_BUDGET = 8  # messages in flight to a service not known to answer (new, or half-open)
FAILURES_TO_OPEN = 8  # consecutive timeouts, network errors or 5xx open the circuit
FIRST_OPEN_SECONDS = 2.0
MAX_OPEN_SECONDS = 120.0
SLUGGISH_SECONDS = 1.0  # answers slower than this: the queue's overflow waits in the store


class Circuit(enum.Enum):
    CLOSED = "closed"  # sending normally
    OPEN = "open"  # failing: nothing is sent until `reopens_at`
    HALF_OPEN = "half-open"  # a few probes decide whether to close or open again


def service_key(endpoint: str) -> str:
    """The push service an endpoint belongs to: its host, with the port when not default."""
    end = endpoint.find("/", endpoint.find("//") + 2)
    prefix = endpoint if end < 0 else endpoint[:end]
    parts = urlsplit(prefix)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or prefix
    if ":" in host:
        host = f"[{host}]"
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


class PushServiceHealth:
    """What the engine knows of one push service. Not thread-safe: the engine's loop owns it."""

    def __init__(
        self,
        name: str,
        *,
        base_timeout: float,
        full_budget: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.base_timeout = base_timeout
        self.full_budget = full_budget
        self._clock = clock
        self.timeout = base_timeout
        self.latency: float | None = None  # moving average of answer times, seconds
        self.circuit = Circuit.CLOSED
        self.answered = False  # an answer came since the service was added or last opened
        self.failures = 0  # consecutive
        self._in_flight = 0
        self.probing_since = 0.0  # when messages last went out to a service not known to answer
        self.open_seconds = FIRST_OPEN_SECONDS
        self.reopens_at = 0.0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @in_flight.setter
    def in_flight(self, value: int) -> None:
        if self._in_flight == 0 and value > 0 and not self.answered:
            self.probing_since = self._clock()
        self._in_flight = value

    # --- what the dispatcher asks ------------------------------------------------------

    def room(self) -> int:
        """How many more messages may be handed to the workers for this service now."""
        self._maybe_half_open()
        if self.circuit is Circuit.OPEN:
            return 0
        budget = self.full_budget if self.circuit is Circuit.CLOSED and self.answered else None
        return max(0, (budget or PROBE_BUDGET) - self.in_flight)

    def wait_seconds(self) -> float:
        """While open, how long until probes may go; else 0."""
        self._maybe_half_open()
        if self.circuit is not Circuit.OPEN:
            return 0.0
        return max(0.0, self.reopens_at - self._clock())

    def drains_quickly(self) -> bool:
        """Known to answer fast: worth waiting a moment for room rather than deferring."""
        return (
            self.circuit is Circuit.CLOSED
            and self.answered
            and (self.latency or 0.0) < self.base_timeout / 10
        )

    def sluggish(self) -> bool:
        """Will not take more soon: failing, slow, or not answering its first messages."""
        self._maybe_half_open()
        if self.circuit is not Circuit.CLOSED:
            return True
        if self.answered:
            return (self.latency or 0.0) > SLUGGISH_SECONDS
        return self.in_flight > 0 and self._clock() - self.probing_since > SLUGGISH_SECONDS

    def status(self) -> str:
        """ok, degraded (slow, failing or being probed) or down (circuit open)."""
        self._maybe_half_open()
        if self.circuit is Circuit.OPEN:
            return "down"
        slow = self.latency is not None and self.latency > self.base_timeout / 2
        if self.circuit is Circuit.HALF_OPEN or slow or self.failures:
            return "degraded"
        return "ok"

    # --- what the outcomes tell --------------------------------------------------------

    def on_timings(self, count: int, total: float, slowest: float) -> None:
        """Answers came back (any status): their times set the latency and the timeout."""
        mean = total / count
        if self.latency is None:
            self.latency = mean
        else:
            self.latency += LATENCY_SMOOTHING * (mean - self.latency)
        # Never time out what the slowest answer took, with a margin.
        self.latency = max(self.latency, slowest / (LATENCY_FACTOR / 1.5))
        timeout = max(self.base_timeout, LATENCY_FACTOR * self.latency)
        self.timeout = min(MAX_TIMEOUT_SECONDS, timeout)

    def on_success(self) -> None:
        if self.circuit is not Circuit.CLOSED:
            log.warning("push service %s answers again: circuit closed", self.name)
        self.circuit = Circuit.CLOSED
        self.answered = True
        self.failures = 0
        self.open_seconds = FIRST_OPEN_SECONDS

    def on_failure(self, *, timed_out_after: float | None = None) -> None:
        """A timeout (after that many seconds), a network error or a 5xx."""
        if timed_out_after is not None:
            grown = min(MAX_TIMEOUT_SECONDS, TIMEOUT_GROWTH * timed_out_after)
            self.timeout = max(self.timeout, grown)
        self.failures += 1
        if self.circuit is Circuit.HALF_OPEN or (
            self.circuit is Circuit.CLOSED and self.failures >= FAILURES_TO_OPEN
        ):
            self._open()

    def _open(self) -> None:
        self.circuit = Circuit.OPEN
        self.answered = False
        self.reopens_at = self._clock() + self.open_seconds
        log.warning(
            "push service %s: %d failures in a row, circuit open for %g s (timeout now %g s)",
            self.name,
            self.failures,
            self.open_seconds,
            self.timeout,
        )
        self.open_seconds = min(MAX_OPEN_SECONDS, self.open_seconds * 2)

    def _maybe_half_open(self) -> None:
        if self.circuit is Circuit.OPEN and self._clock() >= self.reopens_at:
            self.circuit = Circuit.HALF_OPEN
