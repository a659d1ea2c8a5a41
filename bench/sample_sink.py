"""The sample sink: a small aiohttp app behind nginx's `/sample/` location that keeps bodies.

nginx cannot hand bodies back to the benchmark, so the few sampled subscribers' endpoints
go to `/sample/{index}`, which nginx proxies here. It runs in a thread of the bench process.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict

from aiohttp import web

DELAY_HEADER = "X-Bench-Delay-Ms"


class SampleSink:
    """Keeps every body posted to `/sample/{index}`; `take()` returns and clears them."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._bodies: dict[int, list[bytes]] = defaultdict(list)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        delay_ms = int(request.headers.get(DELAY_HEADER, "0"))
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        with self._lock:
            self._bodies[int(request.match_info["index"])].append(body)
        return web.Response(status=201)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/sample/{index:\\d+}", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)

    def take(self) -> dict[int, list[bytes]]:
        with self._lock:
            bodies, self._bodies = dict(self._bodies), defaultdict(list)
        return bodies

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
