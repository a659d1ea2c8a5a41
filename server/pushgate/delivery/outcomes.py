"""Outcome writes in batches: one transaction per few hundred results, not one per message.

Accepted deliveries, nearly all of a broadcast, are kept as bare subscription keys and written
with one statement per notification; other outcomes go through `record_results` one by one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from pushgate.store import Store
from pushgate.store.models import DeliveryResult

log = logging.getLogger("pushgate.delivery")

FLUSH_EVERY_SECONDS = 0.1
FLUSH_AT_COUNT = 1000
RETRY_SECONDS = 0.5  # between tries to write outcomes while the database refuses

OnWritten = Callable[[Sequence[int]], None]  # the subscription keys whose outcome is stored


class OutcomeObserver(Protocol):
    """Told of the outcomes as they are written (event hooks: `sent` and `gone` events)."""

    async def accepted(self, notification_key: int, keys: Sequence[int], at: float) -> None: ...
    async def before_results(self, results: Sequence[DeliveryResult], at: float) -> None: ...


class _Accepted:
    """Accepted deliveries of one notification with one status, waiting to be written."""

    def __init__(self) -> None:
        self.keys: list[int] = []
        self.callbacks: list[tuple[OnWritten, list[int]]] = []


class OutcomeWriter:
    def __init__(
        self,
        store: Store,
        on_writable: Callable[[bool], None] = lambda _: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._clock = clock  # when a push service accepted: frequency caps count from it
        self._on_writable = on_writable  # told when writing stops and starts working again
        self._results: list[tuple[DeliveryResult, OnWritten]] = []
        self._accepted: dict[tuple[int, int], _Accepted] = {}
        self._count = 0
        self._full = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.observer: OutcomeObserver | None = None
        # Cleared while outcomes cannot be written: the dispatcher sends nothing new meanwhile,
        # since what it sent could not be recorded and would all be sent again.
        self.writable = asyncio.Event()
        self.writable.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pushgate-outcomes")

    def add(self, result: DeliveryResult, *, on_written: OnWritten) -> None:
        self._results.append((result, on_written))
        self._added(1)

    def add_accepted(
        self, notification_key: int, status: int, keys: list[int], *, on_written: OnWritten
    ) -> None:
        group = self._accepted.get((notification_key, status))
        if group is None:
            group = self._accepted[(notification_key, status)] = _Accepted()
        group.keys += keys
        group.callbacks.append((on_written, keys))
        self._added(len(keys))

    def _added(self, count: int) -> None:
        self._count += count
        if self._count >= FLUSH_AT_COUNT:
            self._full.set()

    async def stop(self) -> None:
        """Write what is waiting, then stop. Not by cancelling: a write cut off halfway would
        leave its outcomes to be sent again after the restart."""
        self._stopping = True
        self._full.set()
        if self._task:
            await self._task
        if self._count:
            log.error("%d delivery outcomes were not recorded; sent again at start", self._count)

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._full.wait(), FLUSH_EVERY_SECONDS)
            self._full.clear()
            await self._write()
        await self._write()

    async def _write(self) -> None:
        """One flush; while the store refuses, pause sending until a write succeeds."""
        try:
            if not self.writable.is_set():  # nothing may be waiting: ask the store itself
                await self._store.probe_write()
            await self.flush()
        except Exception as exc:
            if self.writable.is_set():
                log.error("cannot record delivery outcomes (%s): sending paused", exc)
                self.writable.clear()
                self._on_writable(False)
            if not self._stopping:
                await asyncio.sleep(RETRY_SECONDS)
        else:
            if not self.writable.is_set():
                log.warning("delivery outcomes are recorded again: sending resumes")
                self.writable.set()
                self._on_writable(True)

    async def flush(self) -> None:
        results, self._results = self._results, []
        accepted, self._accepted = self._accepted, {}
        self._count = 0
        try:
            if results:
                if self.observer is not None:  # before: gone subscriptions are then deleted
                    await self.observer.before_results([r for r, _ in results], self._clock())
                await self._store.record_results([r for r, _ in results], self._clock())
        except BaseException:
            self._results[:0] = results  # keep them, and what is not written yet, for next time
            self._added(len(results))
            self._requeue(accepted)
            raise
        for result, callback in results:
            callback((result.subscription_key,))
        while accepted:
            (notification_key, status), group = next(iter(accepted.items()))
            try:
                await self._store.record_accepted(
                    notification_key, group.keys, status, self._clock()
                )
            except BaseException:
                self._requeue(accepted)
                raise
            del accepted[(notification_key, status)]
            if self.observer is not None:
                await self.observer.accepted(notification_key, group.keys, self._clock())
            for callback, keys in group.callbacks:
                callback(keys)

    def _requeue(self, accepted: dict[tuple[int, int], _Accepted]) -> None:
        for (notification_key, status), group in accepted.items():
            for callback, keys in group.callbacks:
                self.add_accepted(notification_key, status, keys, on_written=callback)
