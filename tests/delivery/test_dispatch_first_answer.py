"""The dispatcher's queue of a push service that has not answered yet (issue #14 part 3): its
first messages may take a TLS handshake and a round trip, tens of ms for a service 50 ms away,
while a run claims its batches faster than that; its overflow must not be deferred (seconds in
the store) before it has answered or proved slow."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

from pushgate.delivery.dispatch import Dispatcher
from pushgate.delivery.jobs import BatchJob
from pushgate.delivery.services import SLUGGISH_SECONDS
from pushgate.delivery.workers import SendWorkers
from pushgate.store.models import DeliveryTarget
from pushgate.webpush.allowlist import EndpointPolicy
from pushgate.webpush.responses import Outcome

FULL_BUDGET = 16  # the queue limit too
ENDPOINT = "https://127.0.0.1:8443/push/"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Run:
    """A notification run as the dispatcher sees it; it only records what is deferred."""

    cancelled = False

    def __init__(self) -> None:
        self.deferred: list[tuple[int, float]] = []

    def withdraw(self, targets: Sequence[DeliveryTarget]) -> None: ...

    def job_for(self, targets: Sequence[DeliveryTarget], timeout: float) -> BatchJob:
        return cast(BatchJob, targets)

    def on_outcome(self, target: DeliveryTarget, outcome: Outcome, service: str) -> None: ...

    def on_accepted(self, status: int, targets: list[DeliveryTarget]) -> None: ...

    def defer(self, targets: Sequence[DeliveryTarget], until: float) -> None:
        self.deferred.extend((t.subscription_key, until) for t in targets)


class SilentWorkers:
    """Send workers whose messages are on the wire and not answered yet."""

    def __init__(self) -> None:
        self.handed = 0
        self.never: asyncio.Future[None] | None = None

    async def deliver(self, job: Any, *callbacks: Any) -> None:
        self.handed += len(job)
        self.never = self.never or asyncio.get_running_loop().create_future()
        await self.never

    def finish(self) -> None:
        if self.never is not None:
            self.never.cancel()


def targets(first: int, count: int) -> list[DeliveryTarget]:
    return [
        DeliveryTarget(1, key, f"{ENDPOINT}{key}", "p256dh", "auth", 0)
        for key in range(first, first + count)
    ]


async def test_new_service_overflow_waits_in_memory_until_it_proves_slow() -> None:
    clock, run, workers = Clock(), Run(), SilentWorkers()
    writable = asyncio.Event()
    writable.set()
    dispatcher = Dispatcher(
        cast(SendWorkers, workers),
        EndpointPolicy(["127.0.0.1:8443"]),
        base_timeout=10.0,
        full_budget=FULL_BUDGET,
        writable=writable,
        clock=clock,
    )
    for batch in range(5):  # 5 queue limits' worth, claimed before any answer
        dispatcher.submit(run, targets(batch * FULL_BUDGET, FULL_BUDGET))
        await asyncio.sleep(0)
    assert workers.handed > 0 and run.deferred == []  # probing: not slow yet

    clock.now += SLUGGISH_SECONDS + 0.1  # still no answer after a second: slow
    dispatcher.submit(run, targets(1000, FULL_BUDGET))
    assert [key for key, _ in run.deferred] == list(range(1000, 1000 + FULL_BUDGET))
    assert all(until >= clock.now + 5.0 for _, until in run.deferred)
    await dispatcher.stop(0.0)
