"""Send workers: processes that encrypt and send whole batches, so fan-out uses every core.

Each message costs its encryption (an ECDH agreement and a fresh key pair, ~100-150 µs here)
plus a TLS request (~40 µs with pushgate's HTTP/1.1 client, kernel included): CPU either way.
The main process keeps the store and the API and hands batches to the workers over pipes; each
worker runs its own event loop with its own pooled keep-alive connections, and reports
outcomes as they come (accepted ones as bare indices). Pipes are read and written by
dedicated threads so that neither side's event loop blocks on them.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import os
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, NamedTuple

from pushgate.delivery.payload import PayloadTemplate
from pushgate.delivery.tokens import make_token
from pushgate.runtime import relax_gc, run_event_loop
from pushgate.webpush.encryption import InvalidSubscriptionKeys, encrypt
from pushgate.webpush.responses import Outcome, Verdict, backoff_delay
from pushgate.webpush.sender import PushClient
from pushgate.webpush.tls_warmup import warm_up_tls

MAX_DEFAULT_WORKERS = 4
STOP = "stop"  # the main process's orderly goodbye; end of file without it means it crashed
READY = "ready"  # a worker's first message: imports done and crypto warm, it can take batches
READY_TIMEOUT_SECONDS = 60.0
YIELD_EVERY_MESSAGES = 4
REPORT_AT_COUNT = 64
# Requests one worker has open across all push services: a memory bound (a body and a task
# each, ~2 KB). Each push service's own limit is --max-in-flight-per-host, shared by the workers.
MAX_IN_FLIGHT_PER_WORKER = 1000
REPORT_EVERY_SECONDS = 0.02  # let answers in between encryptions, so connections keep flowing


class Target(NamedTuple):  # a tuple: thousands cross the pipe per second, and tuples pickle fast
    subscription_key: int
    endpoint: str
    p256dh: str
    auth: str
    attempts: int
    authorization: str  # the VAPID header for the endpoint's origin (cached, shared object)


@dataclass(frozen=True)
class BatchJob:
    notification_key: int
    template: PayloadTemplate
    secret: bytes
    ttl: int
    urgency: str | None
    topic: str | None
    targets: Sequence[Target]


@dataclass(frozen=True)
class WorkerLimits:
    timeout_seconds: float
    max_in_flight_per_host: int


# --- the worker process ----------------------------------------------------------------------


def worker_main(conn: Connection, limits: WorkerLimits) -> None:
    _warm_up()
    relax_gc()
    run_event_loop(_serve(conn, limits))


def _warm_up() -> None:
    """Load OpenSSL's key agreement, ciphers and TLS now, not while the first batch waits."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from pushgate.webpush.b64 import b64url_encode

    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    p256dh = b64url_encode(key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))
    encrypt(b"warm-up", p256dh, b64url_encode(bytes(16)))
    make_token(bytes(32), 0, 0)
    warm_up_tls()


async def _serve(conn: Connection, limits: WorkerLimits) -> None:
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[tuple[int, BatchJob] | None] = asyncio.Queue()
    outbox = _start_writer(conn)
    outbox.put(READY)
    threading.Thread(
        target=_read, args=(conn, loop, inbox.put_nowait), kwargs={"exit_on_eof": True}, daemon=True
    ).start()
    slots = asyncio.Semaphore(MAX_IN_FLIGHT_PER_WORKER)
    tasks: set[asyncio.Task[None]] = set()
    report = OutcomeReport(outbox)
    pump = asyncio.create_task(report.pump())
    client = PushClient(
        timeout_seconds=limits.timeout_seconds,
        max_in_flight_per_host=limits.max_in_flight_per_host,
    )
    async with client:
        while (item := await inbox.get()) is not None:
            batch_id, job = item
            task = asyncio.create_task(_run_batch(client, slots, job, batch_id, report))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
    pump.cancel()
    report.flush()
    outbox.put(None)


# What a worker reports: accepted messages as bare indices per (batch, status), since they are
# nearly all of them; any other outcome in full.
AcceptedReport = dict[tuple[int, int], list[int]]
OtherReport = list[tuple[int, int, tuple[str, int, str, float]]]


class OutcomeReport:
    """Outcomes go back as they come, a few dozen at a time: what the main process has not
    recorded when it crashes is sent again after the restart, so keep that window small."""

    def __init__(self, outbox: queue.SimpleQueue[Any]) -> None:
        self._outbox = outbox
        self._accepted: AcceptedReport = {}
        self._other: OtherReport = []
        self._count = 0

    def add(self, batch_id: int, index: int, outcome: Outcome) -> None:
        if outcome.verdict is Verdict.ACCEPTED:
            indices = self._accepted.get((batch_id, outcome.status))
            if indices is None:
                self._accepted[(batch_id, outcome.status)] = [index]
            else:
                indices.append(index)
        else:
            packed = (outcome.verdict.value, outcome.status, outcome.reason, outcome.delay)
            self._other.append((batch_id, index, packed))
        self._count += 1
        if self._count >= REPORT_AT_COUNT:
            self.flush()

    def flush(self) -> None:
        if self._count:
            self._outbox.put((self._accepted, self._other))
            self._accepted, self._other, self._count = {}, [], 0

    async def pump(self) -> None:
        while True:
            await asyncio.sleep(REPORT_EVERY_SECONDS)
            self.flush()


async def _run_batch(
    client: PushClient,
    slots: asyncio.Semaphore,
    job: BatchJob,
    batch_id: int,
    report: OutcomeReport,
) -> None:
    sends = []
    for index, target in enumerate(job.targets):
        body = _encrypt_one(job, target)
        headers = client.headers(target.authorization, job.ttl, job.urgency, job.topic)
        await slots.acquire()
        send = _send_one(client, slots, target, body, headers, report, batch_id, index)
        sends.append(asyncio.create_task(send))
        if index % YIELD_EVERY_MESSAGES == 0:  # the first message goes out before the rest
            await asyncio.sleep(0)
    await asyncio.gather(*sends)


def _encrypt_one(job: BatchJob, target: Target) -> bytes | None:
    token = make_token(job.secret, job.notification_key, target.subscription_key)
    try:
        return encrypt(job.template.render(token), target.p256dh, target.auth)
    except InvalidSubscriptionKeys:
        return None


async def _send_one(
    client: PushClient,
    slots: asyncio.Semaphore,
    target: Target,
    body: bytes | None,
    headers: bytes,
    report: OutcomeReport,
    batch_id: int,
    index: int,
) -> None:
    try:
        if body is None:
            outcome = Outcome(Verdict.FAILED, 0, "subscription keys are unusable")
        else:
            outcome = await client.send(target.endpoint, body, headers, attempt=target.attempts)
    except Exception as exc:  # never lose an outcome: anything unexpected is retried later
        reason = f"{type(exc).__name__}: {exc}"
        outcome = Outcome(Verdict.RETRY, 0, reason, backoff_delay(target.attempts))
    finally:
        slots.release()
    report.add(batch_id, index, outcome)


# --- pipe plumbing, used on both sides ------------------------------------------------------


def _read(
    conn: Connection, loop: asyncio.AbstractEventLoop, deliver: Any, *, exit_on_eof: bool = False
) -> None:
    """Reader thread: hand each message to the event loop; None when the other side is gone.

    In a worker (`exit_on_eof`), a vanished parent means a crash: nobody will record what this
    worker sends, and the restarted gateway sends those messages again, so stop at once.
    """
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            if exit_on_eof:
                os._exit(0)
            message = None
        if message == STOP:
            message = None
        try:
            loop.call_soon_threadsafe(deliver, message)
        except RuntimeError:  # the loop is closed
            return
        if message is None:
            return


def _start_writer(conn: Connection) -> queue.SimpleQueue[Any]:
    """Writer thread: one sender per pipe, so messages never interleave."""
    outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def write() -> None:
        while (message := outbox.get()) is not None:
            try:
                conn.send(message)
            except (BrokenPipeError, OSError):
                return
        conn.close()

    threading.Thread(target=write, daemon=True).start()
    return outbox


# --- the main process's side ----------------------------------------------------------------


class _Worker:
    def __init__(self, context: Any, limits: WorkerLimits) -> None:
        here, there = context.Pipe()
        self.process = context.Process(
            target=worker_main, args=(there, limits), daemon=True, name="pushgate-sender"
        )
        self.process.start()
        there.close()
        self.conn = here
        self.outbox = _start_writer(here)
        self.pending: dict[int, _Batch] = {}
        self.load = 0
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()


OnOutcome = Callable[[int, Outcome], None]  # (index in the batch, outcome)
OnAccepted = Callable[[int, list[int]], None]  # (status, indices in the batch)


class _Batch:
    def __init__(self, size: int, on_outcome: OnOutcome, on_accepted: OnAccepted) -> None:
        self.remaining = size
        self.on_outcome = on_outcome
        self.on_accepted = on_accepted
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def answered(self, count: int) -> None:
        self.remaining -= count
        if self.remaining <= 0 and not self.done.done():
            self.done.set_result(None)


class SendWorkers:
    """A fixed set of send worker processes; `deliver` runs one batch on the least busy one."""

    def __init__(self, limits: WorkerLimits, workers: int = 0) -> None:
        self.count = workers or min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS)
        self._limits = WorkerLimits(
            limits.timeout_seconds, max(1, limits.max_in_flight_per_host // self.count)
        )
        self._workers: list[_Worker] = []
        self._ids = itertools.count()

    async def start(self) -> None:
        """Start the workers and wait until each is ready, so that a gateway which answers
        requests sends its first message at once rather than after the workers' imports."""
        loop = asyncio.get_running_loop()
        context = multiprocessing.get_context("spawn")  # never fork a threaded event loop
        for _ in range(self.count):
            worker = _Worker(context, self._limits)
            threading.Thread(
                target=_read, args=(worker.conn, loop, self._on_message(worker)), daemon=True
            ).start()
            self._workers.append(worker)
        try:
            ready = asyncio.gather(*(w.ready for w in self._workers))
            await asyncio.wait_for(ready, READY_TIMEOUT_SECONDS)
        except (TimeoutError, RuntimeError) as exc:
            await self.close()
            raise RuntimeError(f"send workers did not start: {exc}") from exc

    def _on_message(self, worker: _Worker) -> Any:
        def on_message(message: tuple[AcceptedReport, OtherReport] | str | None) -> None:
            if isinstance(message, str):  # READY
                worker.ready.set_result(None)
                return
            if message is None:  # the worker died: fail its batches so they are retried
                if not worker.ready.done():
                    worker.ready.set_exception(RuntimeError("a send worker exited at start"))
                for unfinished in worker.pending.values():
                    if not unfinished.done.done():
                        unfinished.done.set_exception(RuntimeError("send worker exited"))
                worker.pending.clear()
                return
            accepted, other = message
            for (batch_id, status), indices in accepted.items():
                batch = worker.pending.get(batch_id)
                if batch is not None:
                    batch.on_accepted(status, indices)
                    batch.answered(len(indices))
            for batch_id, index, (verdict, status, reason, delay) in other:
                batch = worker.pending.get(batch_id)
                if batch is not None:
                    batch.on_outcome(index, Outcome(Verdict(verdict), status, reason, delay))
                    batch.answered(1)

        return on_message

    async def deliver(self, job: BatchJob, on_outcome: OnOutcome, on_accepted: OnAccepted) -> None:
        """Send a batch; as answers come back, `on_accepted(status, indices)` is called for
        messages the push service took, `on_outcome(index, outcome)` for any other."""
        worker = min(self._workers, key=lambda w: w.load)
        if not worker.process.is_alive():
            raise RuntimeError("send worker is not running")
        batch_id = next(self._ids)
        batch = worker.pending[batch_id] = _Batch(len(job.targets), on_outcome, on_accepted)
        worker.load += len(job.targets)
        try:
            worker.outbox.put((batch_id, job))
            await batch.done
        finally:
            worker.load -= len(job.targets)
            worker.pending.pop(batch_id, None)

    async def close(self) -> None:
        for worker in self._workers:
            worker.outbox.put(STOP)
            worker.outbox.put(None)
        for worker in self._workers:
            await asyncio.to_thread(worker.process.join, 5)
            if worker.process.is_alive():
                worker.process.terminate()
