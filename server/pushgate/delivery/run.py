"""One notification's delivery, from audience expansion to the last recorded outcome."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pushgate.delivery.jobs import BatchJob, Target
from pushgate.delivery.outcomes import OutcomeWriter
from pushgate.delivery.payload import build_template
from pushgate.store import Store, StoreUnavailable
from pushgate.store.models import DeliveryResult, DeliveryTarget, Notification
from pushgate.webpush.responses import Outcome, Verdict
from pushgate.webpush.vapid import VapidSigner

if TYPE_CHECKING:
    from pushgate.delivery.dispatch import Dispatcher

log = logging.getLogger("pushgate.delivery")

BATCH_SIZE = 500
FIRST_BATCH_SIZE = 8
FIRST_ANSWER_WAIT_SECONDS = 0.25  # the first batch goes out alone until an answer, or this long
POLL_SECONDS = 1.0
LEASE_SECONDS = 300.0  # a taken batch is not due again before this, unless the engine restarts
SUMMARY_EVERY_SECONDS = 60.0  # how often a long broadcast logs what went wrong meanwhile


class NotificationRun:
    """Delivers one notification to completion (or TTL expiry)."""

    def __init__(
        self,
        notification: Notification,
        *,
        store: Store,
        dispatcher: Dispatcher,
        outcomes: OutcomeWriter,
        signer: VapidSigner,
        secret: bytes,
        events_url: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.n = notification
        self._store = store
        self._dispatcher = dispatcher
        self._outcomes = outcomes
        self._signer = signer
        self._secret = secret
        self._clock = clock
        self._template = build_template(notification.payload, notification.id, events_url)
        self._in_flight: set[int] = set()  # claimed and not yet recorded (or deferred)
        self._settled = asyncio.Event()
        self._first_answer = asyncio.Event()
        self._problems: Counter[tuple[str, str]] = Counter()  # (service, reason) -> count
        self._summarised_at = time.monotonic()
        self._background: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        started = time.monotonic()
        log.info("notification %s: delivery starts (%s)", self.n.id, _describe(self.n))
        await self._produce()
        await self._store.finish_notification(self.n.key)
        self._summarise()
        final = await self._store.get_notification(self.n.site_id, self.n.id)
        counts = final.counts.to_json() if final else {}
        log.info(
            "notification %s: delivery finished in %.1f s: %s",
            self.n.id,
            time.monotonic() - started,
            ", ".join(f"{k} {v}" for k, v in counts.items()),
        )

    async def _produce(self) -> None:
        """Claim and submit work until every delivery is settled; outlive a store outage
        (what is in flight stays known, so nothing is claimed twice)."""
        self._expanded, self._started = self.n.expanded, False
        while True:
            try:
                if await self._produce_some():
                    return
            except StoreUnavailable as exc:
                log.warning("notification %s waits for the database: %s", self.n.id, exc)
                await asyncio.sleep(POLL_SECONDS)

    async def _produce_some(self) -> bool:
        """Claim and submit due work; True once every delivery is settled."""
        store = self._store
        while True:
            now = self._clock()
            if now >= self.n.expires_at:
                await self._drain()
                await store.expire_pending(
                    self.n.key, "TTL ran out before the push service accepted"
                )
                return True
            await self._dispatcher.wait_for_room()
            batch = await store.due_deliveries(self.n.key, now, BATCH_SIZE, tuple(self._in_flight))
            first = not batch and not self._expanded and not self._started
            if not batch and not self._expanded:
                # A small first batch gets the first message on the wire sooner.
                size = FIRST_BATCH_SIZE if first else BATCH_SIZE
                batch = await store.expand_audience(self.n, size, now + LEASE_SECONDS)
                self._expanded = len(batch) < size
                self._started = True
            if batch:
                self._in_flight.update(t.subscription_key for t in batch)
                self._dispatcher.submit(self, batch)
                if first:
                    await self._wait_first_answer()
                continue
            if self._in_flight:
                await self._wait_settled(POLL_SECONDS)
                continue
            next_retry = await store.next_retry_at(self.n.key)
            if next_retry is None:
                return True
            await self._wait_settled(min(max(next_retry - now, 0.01), POLL_SECONDS))

    async def _wait_first_answer(self) -> None:
        """Let the first batch have the CPU to itself for a moment: its connections' TLS
        handshakes otherwise queue behind the encryption of the next thousand messages, and the
        first message waits tens of milliseconds. The first answer also tells early whether the
        push service takes the VAPID signature at all."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_answer.wait(), FIRST_ANSWER_WAIT_SECONDS)

    # --- what the dispatcher calls -----------------------------------------------------

    def job_for(self, targets: Sequence[DeliveryTarget], timeout: float) -> BatchJob:
        sign = self._signer.authorization
        return BatchJob(
            self.n.key,
            self._template,
            self._secret,
            self.n.ttl,
            self.n.urgency,
            self.n.topic,
            [
                Target(
                    t.subscription_key, t.endpoint, t.p256dh, t.auth, t.attempts, sign(t.endpoint)
                )
                for t in targets
            ],
            timeout,
        )

    def on_outcome(self, target: DeliveryTarget, outcome: Outcome, service: str) -> None:
        self._first_answer.set()
        if outcome.verdict is not Verdict.ACCEPTED:
            self._problems[(service, _reason_kind(outcome))] += 1
        self._outcomes.add(self._result(target, outcome), on_written=self._on_written)
        if time.monotonic() - self._summarised_at > SUMMARY_EVERY_SECONDS:
            self._summarise()

    def on_accepted(self, status: int, targets: list[DeliveryTarget]) -> None:
        self._first_answer.set()
        keys = [t.subscription_key for t in targets]
        self._outcomes.add_accepted(self.n.key, status, keys, on_written=self._on_written)

    def defer(self, targets: Sequence[DeliveryTarget], until: float) -> None:
        """Not now: back to the store, due at `until` (no attempt counted)."""
        keys = [t.subscription_key for t in targets]
        task = asyncio.create_task(self._defer(keys, until))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _defer(self, keys: list[int], until: float) -> None:
        try:
            await self._store.defer_deliveries(self.n.key, keys, until)
        except Exception as exc:  # they stay due at their earlier time, which is safe too
            log.warning(
                "notification %s: could not defer %d deliveries: %s", self.n.id, len(keys), exc
            )
        self._on_written(keys)

    # --- bookkeeping -------------------------------------------------------------------

    def _result(self, target: DeliveryTarget, outcome: Outcome) -> DeliveryResult:
        keys = (target.notification_key, target.subscription_key)
        if outcome.verdict is Verdict.RETRY:
            retry_at = self._clock() + outcome.delay
            if retry_at < self.n.expires_at:
                return DeliveryResult(*keys, "pending", outcome.status, outcome.reason, retry_at)
            return DeliveryResult(*keys, "failed", outcome.status, f"TTL ran out: {outcome.reason}")
        return DeliveryResult(*keys, outcome.verdict.value, outcome.status, outcome.reason)

    def _summarise(self) -> None:
        """One line per push service and reason, with a count, instead of one per message."""
        for (service, reason), count in sorted(self._problems.items()):
            level = logging.WARNING if reason.startswith("failed") else logging.INFO
            log.log(level, "notification %s: %s answered %s x%d", self.n.id, service, reason, count)
        self._problems.clear()
        self._summarised_at = time.monotonic()

    def _on_written(self, subscription_keys: Sequence[int]) -> None:
        self._in_flight.difference_update(subscription_keys)
        self._settled.set()

    async def _wait_settled(self, timeout: float) -> None:
        self._settled.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._settled.wait(), timeout)

    async def _drain(self) -> None:
        while self._in_flight:
            await self._wait_settled(POLL_SECONDS)


def _describe(notification: Notification) -> str:
    audience = notification.audience.to_json()
    kind, value = next(iter(audience.items()))
    size = f"{len(value)} " if isinstance(value, list | dict) else ""
    return f"audience {size}{kind}, ttl {notification.ttl} s"


def _reason_kind(outcome: Outcome) -> str:
    """A reason short enough to group by: the status and the first words of the answer."""
    if outcome.reason.startswith("TimeoutError"):
        return "timeout"
    words = " ".join(outcome.reason.split()[:6])
    return f"{outcome.verdict.value}: {words[:80]}" if words else outcome.verdict.value
