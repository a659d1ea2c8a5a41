"""The delivery engine: one task per active notification, and the parts they share.

Per notification (run.py): expand the audience a batch at a time into pending deliveries (the
expansion cursor is committed with them, so a restart resumes where it stopped), hand them to
per-push-service queues (dispatch.py) that feed the send worker processes (workers.py), and
write outcomes in batches (outcomes.py). Deliveries left pending (a crash, a retry, a deferral)
are picked up by due time.

`clock` is the scheduling clock (pushgate.clock): due times, TTLs left, caps and throttles read
it, and so does the dispatcher, whose deferrals become due times. VAPID JWTs are signed by real
time, which is what push services check them against.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from pushgate.delivery.dispatch import Dispatcher
from pushgate.delivery.outcomes import OutcomeWriter
from pushgate.delivery.run import BATCH_SIZE, POLL_SECONDS, NotificationRun
from pushgate.delivery.workers import SendWorkers
from pushgate.metrics.delivery import DeliveryMetrics
from pushgate.settings import DEFAULT_LEASE_SECONDS
from pushgate.store import Store, StoreUnavailable
from pushgate.store.models import Notification, Site
from pushgate.webpush.allowlist import EndpointPolicy
from pushgate.webpush.vapid import VapidSigner, generate_key_pair

log = logging.getLogger("pushgate.delivery")

BATCHES_PER_WORKER = 1  # per push service: 500 in flight per worker covers 50 ms at 10,000 msgs/s
FAILURES_TO_GIVE_UP = 3  # the same error this many times in a row fails the notification
SWEEP_EVERY_SECONDS = 10.0  # how often lapsed deliveries of cancelled notifications are cancelled
NEW, CANCEL = "new", "cancel:"  # announcements between gateways (Store.announce)


class DeliveryEngine:
    def __init__(
        self,
        store: Store,
        workers: SendWorkers,
        *,
        vapid_subject: str,
        events_url: str,
        policy: EndpointPolicy,
        push_timeout: float,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        clock: Callable[[], float] = time.time,
        metrics: DeliveryMetrics | None = None,
    ) -> None:
        self._store = store
        self._lease_seconds = lease_seconds
        self._workers = workers
        self._subject = vapid_subject
        self._events_url = events_url
        self._push_timeout = push_timeout
        self._clock = clock
        self._outcomes = OutcomeWriter(
            store, on_writable=lambda ok: workers.pause(not ok), clock=clock
        )
        self._dispatcher = Dispatcher(
            workers,
            policy,
            base_timeout=push_timeout,
            full_budget=workers.count * BATCHES_PER_WORKER * BATCH_SIZE,
            writable=self._outcomes.writable,
            clock=clock,
            metrics=metrics,
        )
        self._signers: dict[str, VapidSigner] = {}
        self._running: dict[int, asyncio.Task[None]] = {}
        self._runs: dict[int, NotificationRun] = {}
        self._errors: dict[int, tuple[str, int]] = {}  # notification key -> (error, times)
        self._wake = asyncio.Event()
        self._main: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # Sign once now: OpenSSL's first ECDSA signature in a process costs milliseconds, which
        # the first notification's first message would otherwise wait for.
        VapidSigner(generate_key_pair(), self._subject).authorization("https://warm-up.invalid/")
        await self._store.release_leases()
        await self._store.listen(self.heard)
        await self._outcomes.start()
        self._main = asyncio.create_task(self._watch(), name="pushgate-delivery")

    @property
    def outcomes(self) -> OutcomeWriter:
        return self._outcomes

    def wake(self) -> None:
        """A notification was created: look for work now rather than at the next poll."""
        self._wake.set()

    def heard(self, event: str) -> None:
        """Another gateway on the same database (or this one) announced `new` or `cancel:KEY`."""
        if event == NEW:
            self.wake()
        elif event.startswith(CANCEL):
            with contextlib.suppress(ValueError):
                self.cancelled(int(event[len(CANCEL) :]))

    def cancelled(self, notification_key: int) -> None:
        """A notification was cancelled in the store: its run claims nothing more."""
        run = self._runs.get(notification_key)
        if run is not None:
            run.cancel()
            self._dispatcher.withdraw(notification_key)

    def health(self) -> dict[str, Any]:
        """For /healthz: each push service's state and the send workers."""
        return {
            "push_services": self._dispatcher.statuses(),
            "send_workers": {"running": self._workers.running, "configured": self._workers.count},
            "workers_ok": self._workers.healthy,
        }

    async def stop(self) -> None:
        """Stop producing, let the messages the workers hold be answered and recorded (up to
        the push timeout), then release what is still held, so that another gateway on the
        same database takes it at once rather than after the lease."""
        runs = list(self._runs.values())
        tasks = [t for t in (self._main, *self._running.values()) if t]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._dispatcher.stop(self._push_timeout)
        await self._outcomes.stop()
        for run in runs:
            with contextlib.suppress(Exception):  # else the lease runs out: the same, later
                await run.release()

    async def _watch(self) -> None:
        swept_at = 0.0
        while True:
            if time.monotonic() - swept_at > SWEEP_EVERY_SECONDS:
                swept_at = time.monotonic()
                await self._sweep_cancelled()
            try:
                for notification in await self._store.active_notifications(self._clock()):
                    if notification.key not in self._running:
                        task = asyncio.create_task(self._deliver_logged(notification))
                        self._running[notification.key] = task
                        task.add_done_callback(self._forget(notification.key))
            except Exception as exc:
                log.warning("delivery: could not read active notifications: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            self._wake.clear()

    async def _sweep_cancelled(self) -> None:
        """Cancelled notifications' deliveries held by an engine that died: cancelled once its
        lease ran out (a live engine cancels what it held itself)."""
        try:
            await self._store.cancel_lapsed(self._clock())
        except Exception as exc:
            log.warning("delivery: could not sweep cancelled deliveries: %s", exc)

    def _forget(self, key: int) -> Callable[[asyncio.Task[None]], None]:
        def forget(_task: asyncio.Task[None]) -> None:
            self._running.pop(key, None)
            self._runs.pop(key, None)

        return forget

    async def _deliver_logged(self, notification: Notification) -> None:
        if not notification.throttle_per_minute:
            await self._deliver_guarded(notification)
            return
        # A throttle's per-second count lives in the process that runs it: one gateway at a
        # time runs a throttled notification (the others look again at their next poll).
        try:
            async with self._store.exclusive(notification.key) as mine:
                if mine:
                    await self._deliver_guarded(notification)
        except StoreUnavailable as exc:
            log.warning("notification %s waits for the database: %s", notification.id, exc)
            await asyncio.sleep(POLL_SECONDS)

    async def _deliver_guarded(self, notification: Notification) -> None:
        try:
            site = await self._store.get_site(notification.site_id)
            if site is None:
                raise LookupError(f"site {notification.site_id} is gone")
            run = self._runs[notification.key] = NotificationRun(
                notification,
                site=site,
                store=self._store,
                dispatcher=self._dispatcher,
                outcomes=self._outcomes,
                signer=self._signer_for(site),
                secret=await self._store.event_secret(),
                events_url=self._events_url,
                lease_seconds=self._lease_seconds,
                clock=self._clock,
            )
            await run.run()
            self._errors.pop(notification.key, None)
        except asyncio.CancelledError:
            raise
        except StoreUnavailable as exc:  # not the notification's fault: it waits for the store
            log.warning("notification %s waits for the database: %s", notification.id, exc)
            await asyncio.sleep(POLL_SECONDS)
        except Exception as exc:
            await self._count_failure(notification, exc)
            await asyncio.sleep(POLL_SECONDS)

    async def _count_failure(self, notification: Notification, exc: Exception) -> None:
        """The same error three times in a row ends the notification as failed, logged once."""
        error = f"{type(exc).__name__}: {exc}"
        previous, times = self._errors.get(notification.key, ("", 0))
        times = times + 1 if error == previous else 1
        self._errors[notification.key] = (error, times)
        if times < FAILURES_TO_GIVE_UP:
            log.debug("notification %s: delivery raised %s (%d)", notification.id, error, times)
            return
        log.error("notification %s failed: %s", notification.id, error, exc_info=exc)
        await self._store.fail_notification(notification.key, error)
        self._errors.pop(notification.key, None)

    def _signer_for(self, site: Site) -> VapidSigner:
        signer = self._signers.get(site.id)
        if signer is None:  # real time, not the scheduling clock: RFC 8292 §2 `exp`
            signer = self._signers[site.id] = VapidSigner(site.vapid, self._subject)
        return signer
