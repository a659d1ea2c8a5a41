"""Outcome writes in batches: one transaction per few hundred results, not one per message."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from pushgate.store import Store
from pushgate.store.models import DeliveryResult

log = logging.getLogger("pushgate.delivery")

FLUSH_EVERY_SECONDS = 0.1
FLUSH_AT_COUNT = 1000


class OutcomeWriter:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._buffer: list[tuple[DeliveryResult, Callable[[DeliveryResult], None]]] = []
        self._full = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pushgate-outcomes")

    def add(self, result: DeliveryResult, *, on_written: Callable[[DeliveryResult], None]) -> None:
        self._buffer.append((result, on_written))
        if len(self._buffer) >= FLUSH_AT_COUNT:
            self._full.set()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._full.wait(), FLUSH_EVERY_SECONDS)
            self._full.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("could not write delivery outcomes; retrying")
                await asyncio.sleep(FLUSH_EVERY_SECONDS)

    async def flush(self) -> None:
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        try:
            await self._store.record_results([r for r, _ in batch])
        except BaseException:
            self._buffer[:0] = batch  # keep them for the next try
            raise
        for result, callback in batch:
            callback(result)
