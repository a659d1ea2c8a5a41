"""The delivery engine: one task per active notification, streaming its audience in batches.

Per notification: expand the audience a batch at a time into pending deliveries (the
expansion cursor is committed with them, so a restart resumes where it stopped), encrypt each
batch in the worker processes, send with bounded concurrency over pooled connections, and
write outcomes in batches. Deliveries left pending (a crash, a retry) are picked up by due time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

from pushgate.delivery.outcomes import OutcomeWriter
from pushgate.delivery.payload import build_template
from pushgate.delivery.workers import BatchJob, SendWorkers, Target
from pushgate.store import Store
from pushgate.store.models import DeliveryResult, DeliveryTarget, Notification, Site
from pushgate.webpush.responses import Outcome, Verdict, backoff_delay
from pushgate.webpush.vapid import VapidSigner, generate_key_pair

log = logging.getLogger("pushgate.delivery")

BATCH_SIZE = 500
FIRST_BATCH_SIZE = 8
FIRST_ANSWER_WAIT_SECONDS = 0.25  # the first batch goes out alone until an answer, or this long
BATCHES_PER_WORKER = 4  # enough in flight to cover far-away push services
POLL_SECONDS = 1.0
LEASE_SECONDS = 300.0  # a taken batch is not due again before this, unless the engine restarts


class DeliveryEngine:
    def __init__(
        self,
        store: Store,
        workers: SendWorkers,
        *,
        vapid_subject: str,
        events_url: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._workers = workers
        self._subject = vapid_subject
        self._events_url = events_url
        self._clock = clock
        self._batch_slots = asyncio.Semaphore(workers.count * BATCHES_PER_WORKER)
        self._outcomes = OutcomeWriter(store)
        self._signers: dict[str, VapidSigner] = {}
        self._running: dict[int, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._main: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # Sign once now: OpenSSL's first ECDSA signature in a process costs milliseconds, which
        # the first notification's first message would otherwise wait for.
        VapidSigner(generate_key_pair(), self._subject).authorization("https://warm-up.invalid/")
        await self._store.release_leases()
        await self._outcomes.start()
        self._main = asyncio.create_task(self._watch(), name="pushgate-delivery")

    def wake(self) -> None:
        """A notification was created: look for work now rather than at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        tasks = [t for t in (self._main, *self._running.values()) if t]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._outcomes.stop()

    async def _watch(self) -> None:
        while True:
            try:
                for notification in await self._store.active_notifications():
                    if notification.key not in self._running:
                        task = asyncio.create_task(self._deliver_logged(notification))
                        self._running[notification.key] = task
                        task.add_done_callback(self._forget(notification.key))
            except Exception:
                log.exception("delivery: could not read active notifications")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            self._wake.clear()

    def _forget(self, key: int) -> Callable[[asyncio.Task[None]], None]:
        def forget(_task: asyncio.Task[None]) -> None:
            self._running.pop(key, None)

        return forget

    async def _deliver_logged(self, notification: Notification) -> None:
        try:
            await NotificationRun(self, notification).run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "delivery of notification %s stopped; it resumes at the next poll", notification.id
            )
            await asyncio.sleep(POLL_SECONDS)

    async def signer_for(self, site_id: str) -> VapidSigner:
        signer = self._signers.get(site_id)
        if signer is None:
            site: Site | None = await self._store.get_site(site_id)
            if site is None:
                raise LookupError(f"site {site_id} is gone")
            signer = self._signers[site_id] = VapidSigner(
                site.vapid, self._subject, clock=self._clock
            )
        return signer


class NotificationRun:
    """Delivers one notification to completion (or TTL expiry)."""

    def __init__(self, engine: DeliveryEngine, notification: Notification) -> None:
        self.e = engine
        self.n = notification
        self.template = build_template(notification.payload, notification.id, engine._events_url)
        self.in_flight: set[int] = set()
        self.settled = asyncio.Event()
        self.batches: set[asyncio.Task[None]] = set()
        self.started = False
        self.first_answer = asyncio.Event()

    async def run(self) -> None:
        self.signer = await self.e.signer_for(self.n.site_id)
        self.secret = await self.e._store.event_secret()
        try:
            await self._produce()
        finally:
            if self.batches:
                await asyncio.gather(*self.batches, return_exceptions=True)
        await self.e._store.finish_notification(self.n.key)
        log.info("notification %s: delivery finished", self.n.id)

    async def _produce(self) -> None:
        expanded = self.n.expanded
        store = self.e._store
        while True:
            now = self.e._clock()
            if now >= self.n.expires_at:
                await self._drain()
                await store.expire_pending(
                    self.n.key, "TTL ran out before the push service accepted"
                )
                return
            batch = await store.due_deliveries(self.n.key, now, BATCH_SIZE, tuple(self.in_flight))
            first = not batch and not expanded and not self.started
            if not batch and not expanded:
                # A small first batch gets the first message on the wire sooner.
                size = FIRST_BATCH_SIZE if first else BATCH_SIZE
                batch = await store.expand_audience(self.n, size, now + LEASE_SECONDS)
                expanded = len(batch) < size
                self.started = True
            if batch:
                await self._dispatch(batch)
                if first:
                    await self._wait_first_answer()
                continue
            if self.in_flight:
                await self._wait_settled(POLL_SECONDS)
                continue
            next_retry = await store.next_retry_at(self.n.key)
            if next_retry is None:
                return
            await self._wait_settled(min(max(next_retry - now, 0.01), POLL_SECONDS))

    async def _wait_first_answer(self) -> None:
        """Let the first batch have the CPU to itself for a moment: its connections' TLS
        handshakes otherwise queue behind the encryption of the next thousand messages, and the
        first message waits tens of milliseconds. The first answer also tells early whether the
        push service takes the VAPID signature at all."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.first_answer.wait(), FIRST_ANSWER_WAIT_SECONDS)

    async def _dispatch(self, batch: list[DeliveryTarget]) -> None:
        """Hand a batch to a send worker; waits only while every worker is busy enough."""
        await self.e._batch_slots.acquire()
        self.in_flight.update(t.subscription_key for t in batch)
        job = BatchJob(
            self.n.key,
            self.template,
            self.secret,
            self.n.ttl,
            self.n.urgency,
            self.n.topic,
            [
                Target(
                    t.subscription_key,
                    t.endpoint,
                    t.p256dh,
                    t.auth,
                    t.attempts,
                    self.signer.authorization(t.endpoint),
                )
                for t in batch
            ],
        )
        task = asyncio.create_task(self._deliver(batch, job))
        self.batches.add(task)
        task.add_done_callback(self.batches.discard)

    async def _deliver(self, batch: list[DeliveryTarget], job: BatchJob) -> None:
        answered: set[int] = set()

        def on_outcome(index: int, outcome: Outcome) -> None:
            answered.add(index)
            self.first_answer.set()
            self.e._outcomes.add(self._result(batch[index], outcome), on_written=self._on_written)

        def on_accepted(status: int, indices: list[int]) -> None:
            answered.update(indices)
            self.first_answer.set()
            keys = [batch[i].subscription_key for i in indices]
            self.e._outcomes.add_accepted(self.n.key, status, keys, on_written=self._on_written)

        try:
            await self.e._workers.deliver(job, on_outcome, on_accepted)
        except Exception as exc:  # a worker died: retry the rest later rather than lose them
            log.warning("send worker failed a batch (%s); it will be retried", exc)
            for index, target in enumerate(batch):
                if index not in answered:
                    retry = Outcome(Verdict.RETRY, 0, str(exc), backoff_delay(target.attempts))
                    on_outcome(index, retry)
        finally:
            self.e._batch_slots.release()

    def _result(self, target: DeliveryTarget, outcome: Outcome) -> DeliveryResult:
        keys = (target.notification_key, target.subscription_key)
        if outcome.verdict is Verdict.RETRY:
            retry_at = self.e._clock() + outcome.delay
            if retry_at < self.n.expires_at:
                return DeliveryResult(*keys, "pending", outcome.status, outcome.reason, retry_at)
            return DeliveryResult(*keys, "failed", outcome.status, f"TTL ran out: {outcome.reason}")
        if outcome.verdict is Verdict.FAILED and outcome.status in (401, 403):
            log.warning(
                "push service refused VAPID for notification %s: %s", self.n.id, outcome.reason
            )
        return DeliveryResult(*keys, outcome.verdict.value, outcome.status, outcome.reason)

    def _on_written(self, subscription_keys: Sequence[int]) -> None:
        self.in_flight.difference_update(subscription_keys)
        self.settled.set()

    async def _wait_settled(self, timeout: float) -> None:
        self.settled.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.settled.wait(), timeout)

    async def _drain(self) -> None:
        while self.in_flight:
            await self._wait_settled(POLL_SECONDS)
