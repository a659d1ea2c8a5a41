"""One run's leases on the deliveries it holds: renewed while it works, and given up in time.

Gateways sharing a database claim deliveries under a lease (a due time in the future). An
engine that cannot renew its leases in time (its database calls stall, its process is starved)
must stop sending what it holds before another engine may claim the same deliveries; else
both send them. What it gives up stays pending in the store, for whoever claims it next.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection

from pushgate.store import Store

log = logging.getLogger("pushgate.delivery")

MARGIN_FRACTION = 1 / 6  # what is held is given up this long (of the lease) before it ends
MIN_RENEW_WAIT_SECONDS = 1.0  # a renewal always gets this long, even after a test clock's jump


class RunLeases:
    """The earliest lease end among what a run holds, kept current by renewals."""

    def __init__(
        self,
        store: Store,
        notification_key: int,
        seconds: float,
        clock: Callable[[], float],
        held: Callable[[], Collection[int]],
        on_lapse: Callable[[], None],
    ) -> None:
        self._store = store
        self._key = notification_key
        self.seconds = seconds
        self._margin = seconds * MARGIN_FRACTION
        self._clock = clock
        self._held = held
        self._on_lapse = on_lapse
        self._until: float | None = None  # None: nothing held

    def claimed(self, lease_until: float, held_before: bool) -> bool:
        """Deliveries were just claimed until `lease_until`; False when that is too close
        already (the claim took that long): the run must not send them."""
        if self._clock() >= lease_until - self._margin:
            log.warning(
                "notification key %d: a claim came back with its lease nearly over; "
                "left to the next claim",
                self._key,
            )
            return False
        if not held_before or self._until is None:
            self._until = lease_until  # else the older leases end first
        return True

    async def keep(self) -> None:
        """Every third of the lease, extend it for what the run still holds; when a renewal
        does not succeed before the leases end (less the margin), give the held work up."""
        while True:
            await asyncio.sleep(self._next_renewal_in())
            held = list(self._held())
            if not held:
                self._until = None
                continue
            lease_until = self._clock() + self.seconds
            if await self._renew(held, lease_until):
                self._until = lease_until
            elif self._until is not None and self._clock() >= self._until - self._margin:
                log.warning(
                    "notification key %d: leases not renewed in time; %d deliveries held "
                    "are given back unsent",
                    self._key,
                    len(held),
                )
                self._until = None
                self._on_lapse()

    def _next_renewal_in(self) -> float:
        """A third of the lease, or sooner when the leases end before the next round."""
        wait = self.seconds / 3
        if self._until is not None:
            wait = min(wait, max(0.0, self._until - self._margin - self._clock()))
        return wait

    async def _renew(self, held: list[int], lease_until: float) -> bool:
        left = MIN_RENEW_WAIT_SECONDS
        if self._until is not None:
            left = max(left, self._until - self._margin - self._clock())
        try:
            await asyncio.wait_for(self._store.renew_leases(self._key, held, lease_until), left)
            return True
        except Exception as exc:  # TimeoutError included: the lapse check decides
            log.warning("notification key %d: could not renew leases: %s", self._key, exc)
            return False

    async def release(self) -> None:
        """The engine stops: what the run still holds is due again now, for any engine."""
        await self._store.renew_leases(self._key, list(self._held()), self._clock())
