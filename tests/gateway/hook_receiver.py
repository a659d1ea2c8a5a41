"""A receiver for event hooks on 127.0.0.1: keeps every request, checks its signature, and
answers 500 to as many of the first requests as it is told to."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from pushgate.hooks_out.signing import SIGNATURE_HEADER, verify


@dataclass
class HookReceiver:
    secret: str
    fail_next: int = 0  # answer 500 to this many requests
    redirect: bool = False  # answer 307 to /in itself (a redirect must not be followed)
    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)  # every request, as seen
    taken: list[list[dict[str, Any]]] = field(default_factory=list)  # batches answered 200

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}/in"

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        every = [event for batch in self.taken for event in batch]
        return [e for e in every if kind is None or e["type"] == kind]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        signed = verify(body, self.secret, request.headers.get(SIGNATURE_HEADER))
        batch = json.loads(body)["events"]
        self.requests.append({"signed": signed, "size": len(batch), "path": request.path})
        if self.redirect:
            return web.Response(status=307, headers={"Location": self.url})
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=500, text="not now")
        if signed:
            self.taken.append(batch)
        return web.Response(status=200 if signed else 401)


@asynccontextmanager
async def hook_receiver(secret: str, port: int = 0) -> AsyncIterator[HookReceiver]:
    """A receiver on 127.0.0.1:`port` (0: a free one)."""
    receiver = HookReceiver(secret)
    app = web.Application()
    app.router.add_post("/in", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    receiver.port = runner.addresses[0][1]
    try:
        yield receiver
    finally:
        await runner.cleanup()
