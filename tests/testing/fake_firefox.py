"""A WebSocket client that speaks to the local push service as Firefox's PushServiceWebSocket
does, built on the `websockets` library (not aiohttp) so the two sides are independent."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

SUBPROTOCOL = Subprotocol("push-notification")
Message = dict[str, Any]


class FakeFirefox:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.uaid: str | None = None

    async def send(self, message: Message) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self, timeout: float = 5) -> Message:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def hello(self, uaid: str | None = None) -> Message:
        message: Message = {"messageType": "hello", "broadcasts": {}, "use_webpush": True}
        if uaid is not None:
            message["uaid"] = uaid
        await self.send(message)
        reply = await self.receive()
        self.uaid = reply.get("uaid")
        return reply

    async def register(self, key: str | None = None, channel_id: str | None = None) -> Message:
        message: Message = {"messageType": "register", "channelID": channel_id or _channel()}
        if key is not None:
            message["key"] = key
        await self.send(message)
        return await self.receive()

    async def ack(self, channel_id: str, version: str, code: int = 100) -> None:
        update = {"channelID": channel_id, "version": version, "code": code}
        await self.send({"messageType": "ack", "updates": [update]})

    async def ping(self) -> Message:
        """Send `{}`; whatever arrives first (a notification or the `{}` answer) is returned."""
        await self.send({})
        return await self.receive()


def _channel() -> str:
    return str(uuid.uuid4())


@asynccontextmanager
async def firefox(ws_url: str) -> AsyncIterator[FakeFirefox]:
    async with connect(ws_url, subprotocols=[SUBPROTOCOL], proxy=None) as ws:
        yield FakeFirefox(ws)
