"""One notification's delivery, from audience expansion to the last recorded outcome.

A plain broadcast (no local time, quiet hours, cap or throttle) expands its audience straight
into claimed deliveries, as fast as the store writes them. Any other notification first writes
each delivery with its due time (per time zone, scheduling/plan.py), then claims what is due:
the store settles capped and expired deliveries in the claim's own transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pushgate.delivery.ab_winner import AbTestRun
from pushgate.delivery.job_maker import JobMaker
from pushgate.delivery.jobs import BatchJob
from pushgate.delivery.leases import RunLeases
from pushgate.delivery.outcomes import OutcomeWriter
from pushgate.delivery.summary import ProblemSummary, describe
from pushgate.scheduling.plan import DuePlanner, needs_zones
from pushgate.scheduling.throttle import WINDOW_SECONDS as THROTTLE_WINDOW_SECONDS
from pushgate.scheduling.throttle import Throttle
from pushgate.settings import DEFAULT_LEASE_SECONDS
from pushgate.store import Store, StoreUnavailable
from pushgate.store.base import HoldPlan
from pushgate.store.models import (
    DeliveryResult,
    DeliveryTarget,
    Notification,
    Site,
)
from pushgate.webpush.responses import Outcome, Verdict
from pushgate.webpush.vapid import VapidSigner

if TYPE_CHECKING:
    from pushgate.delivery.dispatch import Dispatcher

log = logging.getLogger("pushgate.delivery")

BATCH_SIZE = 500
FIRST_BATCH_SIZE = 8
FIRST_ANSWER_WAIT_SECONDS = 0.25  # the first batch goes out alone until an answer, or this long
POLL_SECONDS = 1.0
# While a plain broadcast is still expanding, its new batches go out as they are read, and only
# retries or a dead gateway's lapsed leases can be due: look for those at most this often (each
# look reads past every delivery settled so far on PostgreSQL, ~2 ms at 100,000).
DUE_LOOK_SECONDS = 1.0
EXPIRED = "expired"  # the reason of a delivery whose notification's lifetime ran out


class NotificationRun:
    """Delivers one notification to completion (or TTL expiry)."""

    def __init__(
        self,
        notification: Notification,
        *,
        site: Site,
        store: Store,
        dispatcher: Dispatcher,
        outcomes: OutcomeWriter,
        signer: VapidSigner,
        secret: bytes,
        events_url: str,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.n = notification
        self._store = store
        self._dispatcher = dispatcher
        self._outcomes = outcomes
        self._clock = clock
        self._jobs = JobMaker(
            notification, signer=signer, secret=secret, events_url=events_url, clock=clock
        )
        self._in_flight: set[int] = set()  # claimed and not yet recorded (or deferred)
        self._leases = RunLeases(
            store, notification.key, lease_seconds, clock, lambda: self._in_flight,
            on_lapse=lambda: dispatcher.withdraw_lapsed(self, notification.key),
        )  # fmt: skip
        self._settled = asyncio.Event()
        self._first_answer = asyncio.Event()
        self._problems = ProblemSummary(notification.id)
        self._background: set[asyncio.Task[None]] = set()
        self._cancelled = False
        self._given_back: set[int] = set()  # held, then withdrawn because of the cancel
        cap = None if notification.ignore_frequency_cap else site.frequency_cap
        self._cap = None if cap is None else (cap.max, float(cap.period_seconds))
        per_minute = notification.throttle_per_minute
        self._throttle = Throttle(per_minute) if per_minute else None
        self._throttle_lease = lease_seconds  # tells when a still-leased delivery was claimed
        # Due times count from the notification's start, not from this run's: after a restart
        # a zone whose local time passed meanwhile is due at once, not a day later.
        self._planner = DuePlanner(notification, site, notification.starts_at)
        self._ab = AbTestRun(notification, store) if notification.ab_test else None
        self._plain = not (
            self._ab or needs_zones(notification, site) or self._cap or self._throttle
        )
        self._next_due_look = 0.0  # clock time of the next look for due work while expanding

    def cancel(self) -> None:
        """The notification was cancelled: claim nothing more, settle what is in flight."""
        self._cancelled = True
        self._settled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    async def run(self) -> None:
        started = time.monotonic()
        log.info("notification %s: delivery starts (%s)", self.n.id, describe(self.n))
        renewing = asyncio.create_task(self._leases.keep())
        try:
            await self._produce()
        finally:
            renewing.cancel()
        await self._store.finish_notification(self.n.key)
        self._problems.log()
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
        if self._throttle:
            await self._recall_throttle(self._throttle)
        while True:
            try:
                if await self._produce_some():
                    return
            except StoreUnavailable as exc:
                log.warning("notification %s waits for the database: %s", self.n.id, exc)
                await asyncio.sleep(POLL_SECONDS)

    async def _recall_throttle(self, throttle: Throttle) -> None:
        """What this notification handed over in the last second, before a restart or in the
        gateway this one takes over from, still counts: the window is read from the store."""
        now = self._clock()
        since = now - THROTTLE_WINDOW_SECONDS
        handed = await self._store.handed_over_since(self.n.key, since, now, self._throttle_lease)
        for when, count in handed:
            throttle.take(when, count)

    async def _produce_some(self) -> bool:
        """Claim and submit due work; True once every delivery is settled."""
        store = self._store
        while True:
            now = self._clock()
            if self._cancelled or now >= self.n.expires_at:
                await self._drain()
                if self._cancelled:  # drained: what no engine holds, and what we gave back
                    await store.cancel_pending(self.n.key, held=self._given_back)
                else:
                    await store.expire_pending(self.n.key, EXPIRED)
                return True
            if self._ab and self._ab.due(now, self._expanded):
                await self._ab.choose(now)
                continue
            await self._dispatcher.wait_for_room()
            now = self._clock()  # the wait may be long: a lease must count from the claim
            room = self._throttle.room(now) if self._throttle else BATCH_SIZE
            batch = await self._claim(now, room) if room > 0 and self._may_be_due(now) else []
            if not batch and not self._expanded:
                await self._expand(now)
                continue
            if batch:
                await self._submit_with_profiles(batch, now)
                continue
            if self._in_flight:
                await self._wait_settled(POLL_SECONDS)
                continue
            next_due = await store.next_retry_at(self.n.key)
            if next_due is None:
                return True
            wait = max(next_due - now, self._throttle.wait_seconds(now) if self._throttle else 0)
            # Bounded: a test clock moves without this process sleeping through it.
            await self._wait_settled(min(max(wait, 0.01), POLL_SECONDS))

    async def release(self) -> None:
        """The engine stops: what this run still holds is due again now, for any engine."""
        await self._leases.release()

    def _may_be_due(self, now: float) -> bool:
        """Whether to look for due deliveries now (see DUE_LOOK_SECONDS)."""
        return self._expanded or not self._plain or now >= self._next_due_look

    async def _claim(self, now: float, limit: int) -> list[DeliveryTarget]:
        lease_until, held_before = now + self._leases.seconds, bool(self._in_flight)
        batch = await self._store.claim_due(
            self.n.key,
            now,
            min(limit, BATCH_SIZE),
            lease_until,
            cap=self._cap,
            hold=self._quiet_hold(now),
            exclude=tuple(self._in_flight),
        )
        if not batch:
            self._next_due_look = now + DUE_LOOK_SECONDS
        return batch if batch and self._leases.claimed(lease_until, held_before) else []

    def _quiet_hold(self, now: float) -> HoldPlan | None:
        """Quiet hours, read again at each claim: a retry may fall into them."""
        if not self._planner.has_quiet_hours:
            return None
        return functools.partial(self._planner.quiet_until_by_zone, now=now)

    async def _expand(self, now: float) -> None:
        """The next batch of the audience: claimed and submitted at once when plain, else
        written with due times (and claimed when due)."""
        if self._ab:
            self._expanded = await self._ab.expand(BATCH_SIZE) < BATCH_SIZE
            return
        if not self._plain:
            read = await self._store.expand_audience_due(self.n, BATCH_SIZE, self._due_by_zone)
            self._expanded = read < BATCH_SIZE
            return
        # A small first batch gets the first message on the wire sooner.
        first = not self._started
        size = FIRST_BATCH_SIZE if first else BATCH_SIZE
        lease_until, held_before = now + self._leases.seconds, bool(self._in_flight)
        batch = await self._store.expand_audience(self.n, size, lease_until)
        self._expanded = len(batch) < size
        self._started = True
        if batch and self._leases.claimed(lease_until, held_before):
            await self._submit_with_profiles(batch, now)
            if first:
                await self._wait_first_answer()

    def _due_by_zone(self, zones: Sequence[str | None]) -> dict[str | None, tuple[float, float]]:
        plan = self._planner.due_by_zone(zones)
        return {zone: (due.at, due.expires_at) for zone, due in plan.items()}

    async def _submit_with_profiles(self, batch: list[DeliveryTarget], now: float) -> None:
        """Submit a claimed batch; first read its subscribers' profiles when the content
        differs per subscriber. The batch counts as in flight before that read, so that a
        store outage during it leaves the batch leased and known, never claimed twice."""
        jobs = self._jobs
        if jobs.content is None:
            self._submit(batch, now)
            return
        self._in_flight.update(t.subscription_key for t in batch)
        if len(jobs.profiles) > 2 * len(self._in_flight) + BATCH_SIZE:  # drop the settled
            jobs.profiles = {k: v for k, v in jobs.profiles.items() if k in self._in_flight}
        keys = [t.subscription_key for t in batch]
        jobs.profiles.update(await self._store.subscriber_profiles(keys))
        self._submit(batch, now)

    def _submit(self, batch: list[DeliveryTarget], now: float) -> None:
        self._in_flight.update(t.subscription_key for t in batch)
        if self._throttle:
            self._throttle.take(now, len(batch))
        if self._plain:
            self._dispatcher.submit(self, batch)
            return
        # One end of life per job, so that each job's TTL header is exact.
        groups: dict[float, list[DeliveryTarget]] = {}
        for target in batch:
            groups.setdefault(target.expires_at, []).append(target)
        for group in groups.values():
            self._dispatcher.submit(self, group)

    async def _wait_first_answer(self) -> None:
        """Let the first batch have the CPU to itself for a moment: its connections' TLS
        handshakes otherwise queue behind the encryption of the next thousand messages, and the
        first message waits tens of milliseconds. The first answer also tells early whether the
        push service takes the VAPID signature at all."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_answer.wait(), FIRST_ANSWER_WAIT_SECONDS)

    # --- what the dispatcher calls -----------------------------------------------------

    def job_for(self, targets: Sequence[DeliveryTarget], timeout: float) -> BatchJob:
        return self._jobs.job_for(targets, timeout)

    def on_outcome(self, target: DeliveryTarget, outcome: Outcome, service: str) -> None:
        self._first_answer.set()
        self._problems.add(service, outcome)
        self._outcomes.add(self._result(target, outcome), on_written=self._on_written)

    def on_accepted(self, status: int, targets: list[DeliveryTarget]) -> None:
        self._first_answer.set()
        keys = [t.subscription_key for t in targets]
        self._outcomes.add_accepted(self.n.key, status, keys, on_written=self._on_written)

    def withdraw(self, targets: Sequence[DeliveryTarget]) -> None:
        """Claimed but cancelled (or our leases lapsed) before a worker sent them: they stay
        pending in the store; when cancelled, this run counts them cancelled at the end."""
        keys = [t.subscription_key for t in targets]
        if self._cancelled:
            self._given_back.update(keys)
        self._on_written(keys)

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
            if retry_at < self._jobs.expires_at(target):
                return DeliveryResult(*keys, "pending", outcome.status, outcome.reason, retry_at)
            return DeliveryResult(*keys, "failed", outcome.status, f"TTL ran out: {outcome.reason}")
        return DeliveryResult(*keys, outcome.verdict.value, outcome.status, outcome.reason)

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
