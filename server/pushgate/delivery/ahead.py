"""How far a send worker encrypts ahead of the wire, per push service.

A job's messages could all be encrypted at once, but only `max_in_flight_per_host` of them
can be on the wire to one push service; the rest would sit encrypted, each with its task and
request bytes, until a connection frees (thousands per service: tens of MB per worker and a
busier collector, for no gain). Encryption instead waits for room under a per-service limit,
so one slow service holds up only its own jobs.
"""

from __future__ import annotations

import asyncio
from collections import deque


class EncryptAhead:
    """A counting gate per push service, first come first served."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._held: dict[str, int] = {}
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {}

    async def acquire(self, service: str) -> None:
        held = self._held.get(service, 0)
        if held < self._limit and not self._waiting.get(service):
            self._held[service] = held + 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(service, deque()).append(waiter)
        try:
            await waiter  # the releaser handed its place over: `held` is unchanged
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(service)  # handed over just as it was cancelled
            raise

    def release(self, service: str) -> None:
        waiting = self._waiting.get(service)
        while waiting:
            waiter = waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._held[service] -= 1
