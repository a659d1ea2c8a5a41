"""Gauges read when /metrics is scraped: the store's counts (cached, since each is a query
over a table that may hold millions of rows) and the delivery engine's health (in memory)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

from pushgate.store import Store
from pushgate.store.counts import StoreCounts

STORE_COUNTS_MAX_AGE_SECONDS = 10.0  # scrapes within this share one reading of the store
SERVICE_STATES = ("ok", "degraded", "down")


class StoreGauges:
    """Subscriptions per site, notifications per status, deliveries pending."""

    def __init__(
        self,
        max_age: float = STORE_COUNTS_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_age = max_age
        self._clock = clock
        self._counts: StoreCounts | None = None
        self._read_at = 0.0
        self._lock = asyncio.Lock()

    async def refresh(self, store: Store) -> None:
        """Read the store unless a reading is fresh; concurrent scrapes wait for one read."""
        async with self._lock:
            if self._counts is not None and self._clock() - self._read_at < self._max_age:
                return
            self._counts = await store.store_counts()
            self._read_at = self._clock()

    def collect(self) -> Iterator[Metric]:
        counts = self._counts or StoreCounts()
        subs = GaugeMetricFamily(
            "pushgate_subscriptions", "Subscriptions stored, by site id.", labels=["site"]
        )
        for site, count in sorted(counts.subscriptions_by_site.items()):
            subs.add_metric([site], count)
        notes = GaugeMetricFamily(
            "pushgate_notifications", "Notifications stored, by status.", labels=["status"]
        )
        for status, count in sorted(counts.notifications_by_status.items()):
            notes.add_metric([status], count)
        yield subs
        yield notes
        yield GaugeMetricFamily(
            "pushgate_deliveries_pending",
            "Deliveries waiting to be sent, retried or answered (the queue's depth).",
            value=counts.pending_deliveries,
        )


class EngineGauges:
    """Send workers running and configured, and each push service's state."""

    def __init__(self) -> None:
        self.health: Callable[[], dict[str, Any]] | None = None  # the engine's, once it runs

    def collect(self) -> Iterator[Metric]:
        if self.health is None:  # no delivery engine in this process (serve --no-deliver)
            return
        health = self.health()
        workers = GaugeMetricFamily(
            "pushgate_send_workers", "Send worker processes, by state.", labels=["state"]
        )
        for state in ("running", "configured"):
            workers.add_metric([state], health["send_workers"][state])
        yield workers
        yield GaugeMetricFamily(
            "pushgate_send_workers_healthy",
            "1 while as many send workers run as are configured (else /healthz answers 503).",
            value=1 if health["workers_ok"] else 0,
        )
        services = GaugeMetricFamily(
            "pushgate_push_service_state",
            "1 for each push service host's current state (ok, degraded or down).",
            labels=["host", "state"],
        )
        for host, status in sorted(health["push_services"].items()):
            for state in SERVICE_STATES:
                services.add_metric([host, state], 1 if status == state else 0)
        yield services
