"""Capturing events where they happen, into the outbox of each hook that wants them.

Which site has which hooks is cached (every hook of every site, a small list): a site without
a hook that wants an event costs a dictionary lookup, no query. The cache is dropped at once
when this gateway changes a hook and read again after CACHE_SECONDS otherwise, so a hook made
on another gateway of a cluster starts getting events within that time. A capture that cannot
be written is logged and dropped: the fact itself (a send, a click) is never held up by it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pushgate.store import Store
from pushgate.store.event_hook_rows import HookEvent
from pushgate.store.models import DeliveryResult

log = logging.getLogger("pushgate.hooks")

CACHE_SECONDS = 2.0
SITES_REMEMBERED = 4096  # notification key -> site id, for delivery outcomes


@dataclass
class _Routes:
    by_site: dict[str, list[tuple[str, tuple[str, ...]]]] = field(default_factory=dict)
    read_at: float = float("-inf")


class EventCapture:
    def __init__(
        self,
        store: Store,
        clock: Callable[[], float],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._clock = clock  # the events' `at`: the app's wall clock
        self._monotonic = monotonic
        self._routes = _Routes()
        self._sites: dict[int, str | None] = {}

    def invalidate(self) -> None:
        """A hook of this gateway's was created or deleted."""
        self._routes = _Routes()

    async def hooks_for(self, site_id: str, kind: str) -> list[str]:
        """The ids of the site's hooks that want `kind`."""
        routes = self._routes
        if self._monotonic() - routes.read_at > CACHE_SECONDS:
            routes = await self._read_routes()
        return [hook_id for hook_id, events in routes.by_site.get(site_id, ()) if kind in events]

    async def _read_routes(self) -> _Routes:
        routes = _Routes(read_at=self._monotonic())
        for site_id, hook_id, events in await self._store.event_hook_routes():
            routes.by_site.setdefault(site_id, []).append((hook_id, events))
        self._routes = routes
        return routes

    async def record(
        self,
        site_id: str,
        kind: str,
        subscription_id: str,
        *,
        notification_id: str | None = None,
        action: str | None = None,
    ) -> None:
        """One event of a site (subscribed, unsubscribed, delivered, clicked, dismissed)."""
        try:
            hook_ids = await self.hooks_for(site_id, kind)
            if hook_ids:
                event = HookEvent(kind, self._clock(), subscription_id, notification_id, action)
                await self._store.enqueue_hook_events([(h, event) for h in hook_ids])
        except Exception as exc:
            log.warning("event hooks: %s of site %s not captured: %s", kind, site_id, exc)

    async def subscription_leaving(self, site_id: str, endpoint: str) -> str | None:
        """The id of the subscription about to be removed by its endpoint, when a hook of the
        site wants `unsubscribed` (else None, without a query)."""
        try:
            if await self.hooks_for(site_id, "unsubscribed"):
                return await self._store.subscription_id_by_endpoint(site_id, endpoint)
        except Exception as exc:
            log.warning("event hooks: unsubscribe of site %s not captured: %s", site_id, exc)
        return None

    async def delivery_event(
        self, site_id: str, kind: str, notification_key: int, subscription_key: int,
        action: str | None,
    ) -> None:  # fmt: skip
        """A browser reported `delivered`, `clicked` or `dismissed` for one delivery."""
        try:
            hook_ids = await self.hooks_for(site_id, kind)
            if hook_ids:
                await self._store.enqueue_delivery_events(
                    hook_ids, kind, notification_key, [subscription_key], self._clock(), action
                )
        except Exception as exc:
            log.warning("event hooks: %s of site %s not captured: %s", kind, site_id, exc)

    # The delivery engine's outcome writer calls these two with each batch it writes.

    async def accepted(self, notification_key: int, keys: Sequence[int], at: float) -> None:
        """Push services accepted these deliveries: `sent` events."""
        await self._deliveries("sent", notification_key, keys, at)

    async def before_results(self, results: Sequence[DeliveryResult], at: float) -> None:
        """Outcomes about to be written: `gone` events for subscriptions that are about to be
        deleted (so while their ids can still be read)."""
        if not self._routes.by_site and self._monotonic() - self._routes.read_at <= CACHE_SECONDS:
            return
        gone: dict[int, list[int]] = {}
        for result in results:
            if result.state == "gone":
                gone.setdefault(result.notification_key, []).append(result.subscription_key)
        for notification_key, keys in gone.items():
            await self._deliveries("gone", notification_key, keys, at)

    async def _deliveries(
        self, kind: str, notification_key: int, keys: Sequence[int], at: float
    ) -> None:
        try:
            routes = self._routes
            if self._monotonic() - routes.read_at > CACHE_SECONDS:
                routes = await self._read_routes()
            if not routes.by_site:
                return
            site_id = await self._site_of(notification_key)
            hook_ids = [] if site_id is None else await self.hooks_for(site_id, kind)
            if hook_ids:
                await self._store.enqueue_delivery_events(
                    hook_ids, kind, notification_key, keys, at
                )
        except Exception as exc:
            log.warning("event hooks: %d %s events not captured: %s", len(keys), kind, exc)

    async def _site_of(self, notification_key: int) -> str | None:
        if notification_key not in self._sites:
            if len(self._sites) >= SITES_REMEMBERED:
                self._sites.clear()
            self._sites[notification_key] = await self._store.notification_site(notification_key)
        return self._sites[notification_key]
