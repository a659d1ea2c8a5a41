"""The pool of send worker processes, as the main process sees it: hand out batches, collect
outcomes, and replace a worker that dies (its unanswered messages go back to the caller)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

from pushgate.delivery.jobs import (
    PAUSE,
    READY,
    RESUME,
    STOP,
    BatchJob,
    Report,
    WorkerLimits,
    withdraw_message,
)
from pushgate.delivery.pipes import start_reader, start_writer
from pushgate.delivery.sender_process import worker_main
from pushgate.webpush.responses import Outcome, Verdict

log = logging.getLogger("pushgate.delivery")

MAX_DEFAULT_WORKERS = 4
READY_TIMEOUT_SECONDS = 60.0
RESTART_PAUSE_SECONDS = 1.0  # between restarts of a worker that keeps dying at start
UNHEALTHY_AFTER_SECONDS = 3.0  # fewer workers than configured for longer: /healthz says 503

OnOutcome = Callable[[int, Outcome], None]  # (index in the batch, outcome)
OnAccepted = Callable[[int, list[int]], None]  # (status, indices in the batch)
# (answers, their total seconds, slowest, answers per LATENCY_BOUNDS_SECONDS bucket)
OnTimings = Callable[[int, float, float, list[int]], None]
OnWithdrawn = Callable[[list[int]], None]  # (indices in the batch never sent)


class WorkerDied(RuntimeError):
    """The worker running a batch exited; the batch's unanswered messages were not recorded."""


class _Batch:
    def __init__(
        self,
        size: int,
        on_outcome: OnOutcome,
        on_accepted: OnAccepted,
        on_timings: OnTimings,
        on_withdrawn: OnWithdrawn,
    ) -> None:
        self.remaining = size
        self.on_outcome = on_outcome
        self.on_accepted = on_accepted
        self.on_timings = on_timings
        self.on_withdrawn = on_withdrawn
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def answered(self, count: int) -> None:
        self.remaining -= count
        if self.remaining <= 0 and not self.done.done():
            self.done.set_result(None)


@contextlib.contextmanager
def _interrupts_ignored() -> Iterator[None]:
    """Start a worker with SIGINT and SIGTERM ignored, which it inherits (Python then installs
    no KeyboardInterrupt): a terminal's Ctrl-C reaches the whole process group, and systemd's
    stop sends SIGTERM to every process of the unit, and the workers must not die (and be
    replaced, with an error logged) while the main process stops them in order. A worker still
    ends when its pipe closes, or with SIGKILL."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal dispositions can only be changed from the main thread
        return
    ignored = (signal.SIGINT, signal.SIGTERM)
    previous = [signal.getsignal(number) for number in ignored]
    if None in previous:  # a handler Python did not install: it could not be put back
        yield
        return
    for number in ignored:
        signal.signal(number, signal.SIG_IGN)
    try:
        yield
    finally:
        for number, handler in zip(ignored, previous, strict=True):
            signal.signal(number, handler)


class _Worker:
    def __init__(self, context: Any, limits: WorkerLimits) -> None:
        here, there = context.Pipe()
        self.process = context.Process(
            target=worker_main, args=(there, limits), daemon=True, name="pushgate-sender"
        )
        with _interrupts_ignored():
            self.process.start()
        there.close()
        self.conn = here
        self.outbox = start_writer(here)
        self.pending: dict[int, _Batch] = {}
        self.load = 0
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.exited: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @property
    def usable(self) -> bool:
        return self.ready.done() and not self.exited.done() and not self.ready.exception()

    def on_message(self, message: Report | str | None) -> None:
        if message == READY:
            if not self.ready.done():
                self.ready.set_result(None)
            return
        if message is None:
            self._exited()
            return
        assert not isinstance(message, str)
        accepted, other, timings, withdrawn = message
        for (batch_id, status), indices in accepted.items():
            if (batch := self.pending.get(batch_id)) is not None:
                batch.on_accepted(status, indices)
                batch.answered(len(indices))
        for batch_id, index, (verdict, status, reason, delay) in other:
            if (batch := self.pending.get(batch_id)) is not None:
                batch.on_outcome(index, Outcome(Verdict(verdict), status, reason, delay))
                batch.answered(1)
        for batch_id, (count, total, slowest, buckets) in timings.items():
            if (batch := self.pending.get(batch_id)) is not None:
                batch.on_timings(count, total, slowest, buckets)
        for batch_id, indices in withdrawn.items():
            if (batch := self.pending.get(batch_id)) is not None:
                batch.on_withdrawn(indices)
                batch.answered(len(indices))

    def _exited(self) -> None:
        if not self.ready.done():
            self.ready.set_exception(WorkerDied("a send worker exited at start"))
        if not self.exited.done():
            self.exited.set_result(None)
        for batch in self.pending.values():
            if not batch.done.done():
                batch.done.set_exception(WorkerDied("the send worker running it exited"))
        self.pending.clear()


class SendWorkers:
    """Send worker processes; `deliver` runs one batch on the least busy one. A worker that
    exits is replaced at once; `healthy` is False while fewer run than configured for more
    than UNHEALTHY_AFTER_SECONDS."""

    def __init__(self, limits: WorkerLimits, workers: int = 0) -> None:
        self.count = workers or min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS)
        self._limits = WorkerLimits(
            limits.timeout_seconds,
            max(1, limits.max_in_flight_per_host // self.count),
            limits.http2,
        )
        self._context = multiprocessing.get_context("spawn")  # never fork a threaded event loop
        self._workers: list[_Worker] = []
        self._ids = itertools.count()
        self._last_id = -1  # the newest batch id handed out
        self._short_since: float | None = None
        self._closing = False
        self._changed = asyncio.Event()  # a worker became ready or exited: for the keeper
        self._available = asyncio.Event()  # the same, for deliveries waiting for a worker
        self._keeper: asyncio.Task[None] | None = None
        self._paused = False

    async def start(self) -> None:
        """Start the workers and wait until each is ready, so that a gateway which answers
        requests sends its first message at once rather than after the workers' imports."""
        self._workers = [self._spawn() for _ in range(self.count)]
        try:
            ready = asyncio.gather(*(w.ready for w in self._workers))
            await asyncio.wait_for(ready, READY_TIMEOUT_SECONDS)
        except (TimeoutError, RuntimeError) as exc:
            await self.close()
            raise RuntimeError(f"send workers did not start: {exc}") from exc
        self._keeper = asyncio.create_task(self._keep_running(), name="pushgate-workers")

    def pause(self, paused: bool) -> None:
        """Hold (or release) every message not yet posted, in every worker."""
        self._paused = paused
        for worker in self._workers:
            worker.outbox.put(PAUSE if paused else RESUME)

    def _spawn(self) -> _Worker:
        worker = _Worker(self._context, self._limits)
        if self._paused:
            worker.outbox.put(PAUSE)
        start_reader(worker.conn, asyncio.get_running_loop(), worker.on_message)
        worker.exited.add_done_callback(self._on_change)
        worker.ready.add_done_callback(self._on_change)
        return worker

    def _on_change(self, future: asyncio.Future[None]) -> None:
        if not future.cancelled():
            future.exception()  # retrieved here: a worker dying at start is logged by the keeper
        self._changed.set()
        self._available.set()

    async def _keep_running(self) -> None:
        """Replace every worker that exits; its batches have already failed with WorkerDied."""
        loop = asyncio.get_running_loop()
        while not self._closing:
            await self._changed.wait()
            self._changed.clear()
            for index, worker in enumerate(self._workers):
                if worker.exited.done() and not self._closing:
                    code = worker.process.exitcode
                    log.error("send worker %s exited (code %s); starting a new one", index, code)
                    self._workers[index] = self._spawn()
                    if isinstance(worker.ready.exception(), WorkerDied):  # it died at start
                        await asyncio.sleep(RESTART_PAUSE_SECONDS)
            running = sum(w.usable for w in self._workers)
            if running < self.count and self._short_since is None:
                self._short_since = loop.time()
            elif running == self.count:
                self._short_since = None

    @property
    def healthy(self) -> bool:
        if self._short_since is None:
            return True
        return asyncio.get_running_loop().time() - self._short_since < UNHEALTHY_AFTER_SECONDS

    @property
    def running(self) -> int:
        return sum(w.usable for w in self._workers)

    async def deliver(
        self,
        job: BatchJob,
        on_outcome: OnOutcome,
        on_accepted: OnAccepted,
        on_timings: OnTimings,
        on_withdrawn: OnWithdrawn,
    ) -> None:
        """Send a batch; as answers come back, `on_accepted(status, indices)` is called for
        messages the push service took, `on_outcome(index, outcome)` for any other,
        `on_timings` with the answer times, and `on_withdrawn(indices)` for messages not sent
        because of `withdraw`. Raises WorkerDied if its worker exits meanwhile."""
        worker = await self._least_busy()
        batch_id = self._last_id = next(self._ids)
        batch = _Batch(len(job.targets), on_outcome, on_accepted, on_timings, on_withdrawn)
        worker.pending[batch_id] = batch
        worker.load += len(job.targets)
        try:
            worker.outbox.put((batch_id, job))
            await batch.done
        finally:
            worker.load -= len(job.targets)
            worker.pending.pop(batch_id, None)

    async def _least_busy(self) -> _Worker:
        while True:
            usable = [w for w in self._workers if w.usable and w.process.is_alive()]
            if usable:
                return min(usable, key=lambda w: w.load)
            if self._closing:
                raise WorkerDied("the send workers are stopping")
            self._available.clear()
            await self._available.wait()

    def withdraw(self, notification_key: int, *, lapsed: bool = False) -> None:
        """The notification was cancelled (or, `lapsed`, this engine's leases on what it
        handed out so far ran out): workers send none of those messages not yet sent (those
        waiting for a connection may still go: at most twice the connections' worth)."""
        message = (
            withdraw_message(notification_key, self._last_id)
            if lapsed
            else withdraw_message(notification_key)
        )
        for worker in self._workers:
            if worker.usable:
                worker.outbox.put(message)

    def finish(self) -> None:
        """Orderly stop: each worker sends nothing new, reports what is on the wire as it is
        answered, and exits; none is restarted."""
        if self._closing:
            return
        self._closing = True
        self._changed.set()
        self._available.set()
        if self._keeper is not None:
            self._keeper.cancel()
        for worker in self._workers:
            worker.outbox.put(STOP)

    async def close(self) -> None:
        self.finish()
        for worker in self._workers:
            worker.outbox.close()
        for worker in self._workers:
            await asyncio.to_thread(worker.process.join, 5)
            if worker.process.is_alive():
                worker.process.kill()  # it ignores SIGTERM
