"""Per-push-service queues between the notification runs and the send workers.

A run submits the deliveries it has claimed; they are split by push service, and each service
has its own queue, budget of messages in flight, timeout and circuit (see services.py), so a
slow or dead service only holds up its own subscribers. What a service cannot take soon (its
circuit is open, or its queue is full and it is slow) is deferred: handed back to the run with
a due time, so it waits in the store, not in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

from pushgate.delivery.jobs import BatchJob
from pushgate.delivery.services import PushServiceHealth, service_key
from pushgate.delivery.workers import SendWorkers, WorkerDied
from pushgate.metrics.delivery import DeliveryMetrics
from pushgate.store.models import DeliveryTarget
from pushgate.webpush.allowlist import EndpointPolicy, EndpointRejected
from pushgate.webpush.responses import Outcome, Verdict

log = logging.getLogger("pushgate.delivery")

JOB_SIZE = 500  # messages per job handed to one worker
MIN_DEFER_SECONDS = 5.0
WAIT_FOR_ROOM_SECONDS = 0.05  # a fast service's full queue: how long a producer waits


class BatchOwner(Protocol):
    """A notification run, as the dispatcher sees it."""

    @property
    def cancelled(self) -> bool: ...
    def withdraw(self, targets: Sequence[DeliveryTarget]) -> None: ...
    def job_for(self, targets: Sequence[DeliveryTarget], timeout: float) -> BatchJob: ...
    def on_outcome(self, target: DeliveryTarget, outcome: Outcome, service: str) -> None: ...
    def on_accepted(self, status: int, targets: list[DeliveryTarget]) -> None: ...
    def defer(self, targets: Sequence[DeliveryTarget], until: float) -> None: ...


class _ServiceQueue:
    def __init__(self, health: PushServiceHealth) -> None:
        self.health = health
        self.items: deque[tuple[BatchOwner, list[DeliveryTarget]]] = deque()
        self.queued = 0
        self.changed = asyncio.Event()  # work queued, answers came, or the circuit moved
        self.pump: asyncio.Task[None] | None = None

    def take(self, limit: int) -> tuple[BatchOwner, list[DeliveryTarget]]:
        """Up to `limit` queued messages of the first owner. Consecutive submissions of one
        run are joined: a claimed batch splits four ways over four push services, and jobs of
        a quarter batch cost four times the per-job work in both processes."""
        owner = self.items[0][0]
        taken: list[DeliveryTarget] = []
        while self.items and len(taken) < limit and self.items[0][0] is owner:
            targets = self.items[0][1]
            room = limit - len(taken)
            if len(targets) <= room:
                self.items.popleft()
                taken.extend(targets)
            else:
                taken.extend(targets[:room])
                self.items[0] = (owner, targets[room:])
        self.queued -= len(taken)
        return owner, taken

    def drain(self) -> list[tuple[BatchOwner, list[DeliveryTarget]]]:
        items, self.items, self.queued = list(self.items), deque(), 0
        return items


class Dispatcher:
    def __init__(
        self,
        workers: SendWorkers,
        policy: EndpointPolicy,
        *,
        base_timeout: float,
        full_budget: int,
        writable: asyncio.Event,
        clock: Callable[[], float] = time.time,
        metrics: DeliveryMetrics | None = None,
    ) -> None:
        self._metrics = metrics  # counted here, where every outcome of every run passes
        self._workers = workers
        self._policy = policy
        self._base_timeout = base_timeout
        self._full_budget = full_budget
        self._queue_limit = full_budget
        self._writable = writable  # cleared while outcomes cannot be recorded: send nothing new
        self._clock = clock
        self._queues: dict[str, _ServiceQueue] = {}
        self._by_prefix: dict[str, tuple[str, str | None]] = {}  # prefix -> (service, refusal)
        self._sending: set[asyncio.Task[None]] = set()
        self._stopping = False

    def statuses(self) -> dict[str, str]:
        return {name: q.health.status() for name, q in sorted(self._queues.items())}

    # --- producers ---------------------------------------------------------------------

    def submit(self, owner: BatchOwner, targets: Sequence[DeliveryTarget]) -> None:
        """Queue claimed deliveries by push service; refuse, or defer, what cannot go soon."""
        groups: dict[str, list[DeliveryTarget]] = {}
        for target in targets:
            name, refusal = self._service_of(target.endpoint)
            if refusal is not None:
                self._report(owner, target, Outcome(Verdict.FAILED, 0, refusal), name)
                continue
            groups.setdefault(name, []).append(target)
        for name, group in groups.items():
            queue = self._queue(name)
            if queue.queued >= self._queue_limit and self._slow(queue.health):
                owner.defer(group, self._clock() + self._defer_seconds(queue))
                continue
            queue.items.append((owner, group))
            queue.queued += len(group)
            queue.changed.set()

    async def wait_for_room(self) -> None:
        """Back-pressure for producers: wait while a fast service's queue is full (a slow
        one's overflow is deferred instead, so it never holds up the others)."""
        while any(
            q.queued >= self._queue_limit and q.health.drains_quickly()
            for q in self._queues.values()
        ):
            await asyncio.sleep(WAIT_FOR_ROOM_SECONDS)

    @staticmethod
    def _slow(health: PushServiceHealth) -> bool:
        """Not worth holding a full queue for. A service still to give its first answer is
        not, before it proves sluggish: its first messages may take a TLS handshake and a round
        trip (tens of ms 50 ms away) while a run claims faster than that, and deferred now
        they would wait seconds in the store (issue #14: an 8 s hole in a 10,000 broadcast)."""
        if not health.answered and not health.sluggish():
            return False
        return not health.drains_quickly()

    def _service_of(self, endpoint: str) -> tuple[str, str | None]:
        """The endpoint's push service, and why it may not be sent to (the allowlist is
        checked again at send time: it may have changed since the subscription was stored)."""
        end = endpoint.find("/", endpoint.find("//") + 2)
        prefix = endpoint if end < 0 else endpoint[:end]
        known = self._by_prefix.get(prefix)
        if known is None:
            refusal = None
            try:
                self._policy.check(endpoint)
            except EndpointRejected as exc:
                refusal = f"endpoint not allowed: {exc}"
            known = self._by_prefix[prefix] = (service_key(endpoint), refusal)
        return known

    def _queue(self, name: str) -> _ServiceQueue:
        queue = self._queues.get(name)
        if queue is None:
            health = PushServiceHealth(
                name,
                base_timeout=self._base_timeout,
                full_budget=self._full_budget,
                clock=self._clock,
            )
            queue = self._queues[name] = _ServiceQueue(health)
            queue.pump = asyncio.create_task(self._pump(queue), name=f"pushgate-pump-{name}")
        return queue

    def _defer_seconds(self, queue: _ServiceQueue) -> float:
        health = queue.health
        drain = queue.queued / max(1, health.full_budget) * (health.latency or health.timeout)
        seconds = max(MIN_DEFER_SECONDS, health.timeout, health.wait_seconds(), drain)
        return seconds * random.uniform(1.0, 1.2)  # spread the deferred out a little

    # --- one pump per push service -----------------------------------------------------

    async def _pump(self, queue: _ServiceQueue) -> None:
        health = queue.health
        while not self._stopping:
            if not queue.items:
                await self._wait(queue, None)
                continue
            await self._writable.wait()
            if (wait := health.wait_seconds()) > 0:  # circuit open: the queue waits in the store
                for owner, targets in queue.drain():
                    owner.defer(targets, self._clock() + max(wait, MIN_DEFER_SECONDS))
                continue
            room = health.room()
            want = min(JOB_SIZE, queue.queued)
            if room < want and health.in_flight >= want:
                room = 0  # whole jobs, not a trickle of small ones, while plenty is in flight
            if room <= 0:
                if health.sluggish():  # what it cannot take soon waits in the store
                    for owner, targets in queue.drain():
                        owner.defer(targets, self._clock() + self._defer_seconds(queue))
                await self._wait(queue, 1.0)
                continue
            owner, targets = queue.take(min(room, JOB_SIZE))
            if owner.cancelled:  # what is not handed to a push service yet never goes
                owner.withdraw(targets)
                continue
            health.in_flight += len(targets)
            task = asyncio.create_task(self._send(queue, owner, targets))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    @staticmethod
    async def _wait(queue: _ServiceQueue, timeout: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(queue.changed.wait(), timeout)
        queue.changed.clear()

    async def _send(
        self, queue: _ServiceQueue, owner: BatchOwner, targets: list[DeliveryTarget]
    ) -> None:
        health = queue.health
        job = owner.job_for(targets, health.timeout)
        answered = [False] * len(targets)

        def settle(index: int) -> None:
            answered[index] = True
            health.in_flight -= 1
            queue.changed.set()

        def on_outcome(index: int, outcome: Outcome) -> None:
            settle(index)
            if self._judge(health, outcome, job.timeout):
                # It may still arrive: a slow service gets its measured time before a resend.
                outcome = replace(outcome, delay=max(outcome.delay, health.timeout))
            self._report(owner, targets[index], outcome, health.name)

        def on_accepted(status: int, indices: list[int]) -> None:
            for index in indices:
                settle(index)
            health.on_success()
            accepted = [targets[i] for i in indices]
            if self._metrics is not None:
                retried = sum(1 for t in accepted if t.attempts)
                self._metrics.accepted(health.name, len(accepted), retried)
            owner.on_accepted(status, accepted)

        def on_timings(count: int, total: float, slowest: float, buckets: list[int]) -> None:
            health.on_timings(count, total, slowest)
            if self._metrics is not None:
                self._metrics.timings(health.name, total, buckets)

        def on_withdrawn(indices: list[int]) -> None:
            for index in indices:
                settle(index)
            owner.withdraw([targets[i] for i in indices])

        try:
            await self._workers.deliver(job, on_outcome, on_accepted, on_timings, on_withdrawn)
        except WorkerDied as exc:  # back to the queue: these were never recorded
            if self._stopping:  # not sent: they stay pending in the store, for the next start
                return
            left = [t for t, done in zip(targets, answered, strict=True) if not done]
            log.warning("%s; %d messages go back to the queue", exc, len(left))
            health.in_flight -= len(left)
            if left:
                queue.items.appendleft((owner, left))
                queue.queued += len(left)
            queue.changed.set()
        except Exception as exc:  # never lose a message: whatever broke, retry it later
            log.exception("a batch for %s failed; its messages will be retried", health.name)
            for index, target in enumerate(targets):
                if not answered[index]:
                    retry = Outcome(Verdict.RETRY, 0, f"{type(exc).__name__}: {exc}", 5.0)
                    settle(index)
                    self._report(owner, target, retry, health.name)

    def _report(
        self, owner: BatchOwner, target: DeliveryTarget, outcome: Outcome, service: str
    ) -> None:
        if self._metrics is not None:
            self._metrics.outcome(service, outcome.verdict, target.attempts > 0)
        owner.on_outcome(target, outcome, service)

    @staticmethod
    def _judge(health: PushServiceHealth, outcome: Outcome, timeout: float) -> bool:
        """Tell the service's health what this outcome says of it; True for a timeout."""
        status = outcome.status
        if status == 0 and outcome.reason.startswith("TimeoutError"):
            health.on_failure(timed_out_after=timeout)
            return True
        if status == 0 and outcome.verdict is Verdict.RETRY or status >= 500:
            health.on_failure()
        elif status and status not in (429, 406):  # an answer, even a refusal, is a live service
            health.on_success()
        return False

    def withdraw(self, notification_key: int) -> None:
        """A notification was cancelled: what its runs submitted and the workers have not
        sent yet is withdrawn (handed back through `BatchOwner.withdraw`), never sent."""
        self._workers.withdraw(notification_key)
        self._withdraw_queued(lambda owner: owner.cancelled)

    def withdraw_lapsed(self, run: BatchOwner, notification_key: int) -> None:
        """`run`'s leases ran out, so another engine may claim what it holds: what it has
        submitted and is not on the wire yet is handed back (`BatchOwner.withdraw`), unsent."""
        self._workers.withdraw(notification_key, lapsed=True)
        self._withdraw_queued(lambda owner: owner is run)

    def _withdraw_queued(self, withdrawn: Callable[[BatchOwner], bool]) -> None:
        for queue in self._queues.values():
            kept: deque[tuple[BatchOwner, list[DeliveryTarget]]] = deque()
            for owner, targets in queue.items:
                if withdrawn(owner):
                    queue.queued -= len(targets)
                    owner.withdraw(targets)
                else:
                    kept.append((owner, targets))
            queue.items = kept

    async def stop(self, drain_seconds: float) -> None:
        """Send nothing new; what is on the wire gets up to `drain_seconds` to be answered
        and reported (the workers then exit); what was not sent stays pending in the store."""
        self._stopping = True
        for queue in self._queues.values():
            queue.changed.set()
            if queue.pump is not None:
                queue.pump.cancel()
        self._workers.finish()
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=drain_seconds)
        for task in list(self._sending):
            task.cancel()
