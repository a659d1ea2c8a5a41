"""The send worker process: encrypts whole batches and posts them, so fan-out uses every core.

Each message costs its encryption (an ECDH agreement and a fresh key pair, ~100-150 µs here)
plus a TLS request (~40 µs with pushgate's HTTP/1.1 client, kernel included): CPU either way.
The main process keeps the store and the API and hands batches over a pipe; each worker runs
its own event loop with its own pooled keep-alive connections, and reports outcomes as they
come (accepted ones as bare indices) with the answer times it measured per batch.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from multiprocessing.connection import Connection

from pushgate.audience.fields import push_service_of
from pushgate.content.sandbox import RenderFailed
from pushgate.delivery.ahead import EncryptAhead
from pushgate.delivery.jobs import (
    PAUSE,
    READY,
    WITHDRAW,
    AcceptedReport,
    BatchJob,
    OtherReport,
    Target,
    Timings,
    Withdrawn,
    WorkerLimits,
    parse_withdraw,
)
from pushgate.delivery.latency import LATENCY_BOUNDS_SECONDS
from pushgate.delivery.pipes import Outbox, start_reader, start_writer
from pushgate.delivery.services import service_key
from pushgate.delivery.tokens import make_token
from pushgate.runtime import relax_gc, run_event_loop
from pushgate.webpush.encryption import InvalidSubscriptionKeys, encrypt
from pushgate.webpush.http1 import ClientStopping
from pushgate.webpush.responses import Outcome, Verdict, backoff_delay
from pushgate.webpush.sender import PushClient
from pushgate.webpush.tls_warmup import warm_up_tls

YIELD_EVERY_MESSAGES = 4
REPORT_AT_COUNT = 64
REPORT_EVERY_SECONDS = 0.02  # let answers in between encryptions, so connections keep flowing
FINAL_REPORT_SECONDS = 10.0  # at an orderly stop, for the last outcomes to cross the pipe
TIMEOUT_REASON = "TimeoutError: no answer within {:g} s"
UNUSABLE_KEYS = "subscription keys are unusable"
ENCRYPT_AHEAD_FACTOR = 2  # per service, encrypted messages held: this many times the wire limit


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
    inbox: asyncio.Queue[tuple[int, BatchJob] | str | None] = asyncio.Queue()
    outbox = start_writer(conn)
    outbox.put(READY)
    start_reader(conn, asyncio.get_running_loop(), inbox.put_nowait, exit_on_eof=True)
    tasks: set[asyncio.Task[None]] = set()
    report = OutcomeReport(outbox)
    ahead = EncryptAhead(ENCRYPT_AHEAD_FACTOR * limits.max_in_flight_per_host)
    withdrawn = WithdrawnBatches()
    pump = asyncio.create_task(report.pump())
    client = PushClient(
        timeout_seconds=limits.timeout_seconds,
        max_in_flight_per_host=limits.max_in_flight_per_host,
        service_of=push_service_of,
        http2=limits.http2,
        pace=True,  # connections and streams as each push service's latency and rate need
    )
    async with client:
        while (item := await inbox.get()) is not None:
            if isinstance(item, str) and item.startswith(WITHDRAW):
                withdrawn.add(*parse_withdraw(item))
                continue
            if isinstance(item, str):  # the main process cannot record outcomes, or can again
                client.pause(item == PAUSE)
                continue
            batch_id, job = item
            if withdrawn.covers(job.notification_key, batch_id):
                report.withdraw(batch_id, list(range(len(job.targets))))
                continue
            run = _run_batch(client, ahead, job, batch_id, report, withdrawn)
            task = asyncio.create_task(run)
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        # An orderly stop: what is on the wire is answered and reported; what is not stays
        # unsent (and pending in the store, for the next start).
        client.stop_new()
        if tasks:
            await asyncio.gather(*tasks)
    pump.cancel()
    report.flush()
    await asyncio.to_thread(outbox.close, FINAL_REPORT_SECONDS)


class WithdrawnBatches:
    """Which batches must not send what they have not sent: a cancelled notification's, all
    of them; one whose leases lapsed in the main process, those handed out until then."""

    def __init__(self) -> None:
        self._up_to: dict[int, float] = {}  # notification key -> the last batch id withdrawn

    def add(self, notification_key: int, up_to_batch: float) -> None:
        self._up_to[notification_key] = max(self._up_to.get(notification_key, -1), up_to_batch)

    def covers(self, notification_key: int, batch_id: int) -> bool:
        return batch_id <= self._up_to.get(notification_key, -1)


class OutcomeReport:
    """Outcomes go back as they come, a few dozen at a time: what the main process has not
    recorded when it crashes is sent again after the restart, so keep that window small."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self._accepted: AcceptedReport = {}
        self._other: OtherReport = []
        self._timings: Timings = {}
        self._withdrawn: Withdrawn = {}
        self._count = 0

    def add(self, batch_id: int, index: int, outcome: Outcome, seconds: float) -> None:
        if outcome.verdict is Verdict.ACCEPTED:
            indices = self._accepted.get((batch_id, outcome.status))
            if indices is None:
                self._accepted[(batch_id, outcome.status)] = [index]
            else:
                indices.append(index)
        else:
            packed = (outcome.verdict.value, outcome.status, outcome.reason, outcome.delay)
            self._other.append((batch_id, index, packed))
        if outcome.status:  # an answer came: its time tells how fast the push service is
            count, total, slowest, buckets = self._timings.get(batch_id) or _no_timings()
            buckets[bisect_left(LATENCY_BOUNDS_SECONDS, seconds)] += 1
            self._timings[batch_id] = (count + 1, total + seconds, max(slowest, seconds), buckets)
        self._count += 1
        if self._count >= REPORT_AT_COUNT:
            self.flush()

    def withdraw(self, batch_id: int, indices: list[int]) -> None:
        """Messages not sent because their notification was cancelled."""
        self._withdrawn.setdefault(batch_id, []).extend(indices)
        self._count += len(indices)
        self.flush()

    def flush(self) -> None:
        if self._count:
            self._outbox.put((self._accepted, self._other, self._timings, self._withdrawn))
            self._accepted, self._other, self._timings, self._withdrawn = {}, [], {}, {}
            self._count = 0

    async def pump(self) -> None:
        while True:
            await asyncio.sleep(REPORT_EVERY_SECONDS)
            self.flush()


def _no_timings() -> tuple[int, float, float, list[int]]:
    return 0, 0.0, 0.0, [0] * (len(LATENCY_BOUNDS_SECONDS) + 1)


async def _run_batch(
    client: PushClient,
    ahead: EncryptAhead,
    job: BatchJob,
    batch_id: int,
    report: OutcomeReport,
    withdrawn: WithdrawnBatches,
) -> None:
    if not job.targets:
        return
    service = service_key(job.targets[0].endpoint)  # a job is for one push service
    sends = []
    for index, target in enumerate(job.targets):
        await ahead.acquire(service)
        if client.stopping:  # never sent: it stays pending, for the next start
            ahead.release(service)
            break
        if withdrawn.covers(job.notification_key, batch_id):
            ahead.release(service)
            report.withdraw(batch_id, list(range(index, len(job.targets))))
            break
        body = _encrypt_one(job, target)
        headers = client.headers(target.authorization, job.ttl, job.urgency, job.topic)
        send = _send_one(client, job, target, body, headers, report, batch_id, index)
        task = asyncio.create_task(send)
        task.add_done_callback(lambda _: ahead.release(service))
        sends.append(task)
        if index % YIELD_EVERY_MESSAGES == 0:  # the first message goes out before the rest
            await asyncio.sleep(0)
    await asyncio.gather(*sends)


def _encrypt_one(job: BatchJob, target: Target) -> bytes | str:
    """The encrypted message, or why there is none."""
    token = make_token(job.secret, job.notification_key, target.subscription_key)
    try:
        content = job.content
        if content is None:
            template = job.template
        else:
            template = content.template_for(target.profile, target.variant)
        return encrypt(template.render(token), target.p256dh, target.auth)
    except InvalidSubscriptionKeys:
        return UNUSABLE_KEYS
    except RenderFailed as exc:  # this subscriber's message only; the reason says why
        return str(exc)


async def _send_one(
    client: PushClient,
    job: BatchJob,
    target: Target,
    body: bytes | str,
    headers: bytes,
    report: OutcomeReport,
    batch_id: int,
    index: int,
) -> None:
    seconds = 0.0
    try:
        if isinstance(body, str):
            outcome = Outcome(Verdict.FAILED, 0, body)
        else:
            outcome, seconds = await client.send_timed(
                target.endpoint, body, headers, attempt=target.attempts, timeout=job.timeout
            )
    except ClientStopping:  # never sent: it stays pending, for the next start
        return
    except Exception as exc:  # never lose an outcome: anything unexpected is retried later
        reason = f"{type(exc).__name__}: {exc}"
        outcome = Outcome(Verdict.RETRY, 0, reason, backoff_delay(target.attempts))
    if outcome.status == 0 and outcome.reason.startswith("TimeoutError"):
        # One wording, by which the engine tells a slow push service from a broken one.
        outcome = Outcome(Verdict.RETRY, 0, TIMEOUT_REASON.format(job.timeout), outcome.delay)
    report.add(batch_id, index, outcome, seconds)
