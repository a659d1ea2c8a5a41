"""Wait until a growing list holds at least n items, without polling."""

from __future__ import annotations

import asyncio
from collections.abc import Sized


class ArrivalWaiter:
    """Wakes coroutines waiting for `len(items) >= n`; call `notify()` after each append."""

    def __init__(self, items: Sized, what: str) -> None:
        self._items = items
        self._what = what
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def notify(self) -> None:
        if not self._waiters:
            return
        count = len(self._items)
        still_waiting = []
        for n, future in self._waiters:
            if count >= n:
                if not future.done():
                    future.set_result(None)
            elif not future.done():
                still_waiting.append((n, future))
        self._waiters = still_waiting

    async def wait_for(self, n: int, timeout: float) -> None:
        """Return once there are `n` items; raise TimeoutError saying how many arrived."""
        if len(self._items) >= n:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((n, future))
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            got = len(self._items)
            raise TimeoutError(f"{self._what}: {got} of {n} after {timeout}s") from None
