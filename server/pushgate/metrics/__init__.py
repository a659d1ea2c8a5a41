"""Prometheus metrics: one registry per app, so several apps in one process never collide."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest

from pushgate.metrics.delivery import DeliveryMetrics
from pushgate.metrics.gauges import EngineGauges, StoreGauges
from pushgate.store import Store

__all__ = ["DeliveryMetrics", "Metrics"]


class Metrics:
    """The app's registry and what feeds it: the dispatcher's counters, the store's and the
    engine's gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.delivery = DeliveryMetrics(self.registry)
        self.store_gauges = StoreGauges()
        self.engine_gauges = EngineGauges()
        self.registry.register(self.store_gauges)
        self.registry.register(self.engine_gauges)
        self._store: Store | None = None

    def bind(self, store: Store, engine_health: Callable[[], dict[str, Any]] | None) -> None:
        """The app's lifespan opened its store (and started its engine, if it delivers)."""
        self._store = store
        self.engine_gauges.health = engine_health

    async def exposition(self) -> bytes:
        """The text format (version 0.0.4), with the store's counts at most a few seconds old."""
        if self._store is not None:
            await self.store_gauges.refresh(self._store)
        return generate_latest(self.registry)
