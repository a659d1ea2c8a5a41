"""The WebSocket side: the autopush protocol Firefox speaks (subprotocol `push-notification`).

Messages as Firefox's PushServiceWebSocket sends and expects them: hello, register,
unregister, ack/nack, `{}` pings, and notifications pushed down to it. Unacked notifications
are kept per uaid and sent again when that uaid reconnects, until their TTL runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from pushgate.testing.records import Ack, Journal
from pushgate.testing.registry import Channel, Endpoints
from pushgate.webpush.b64 import b64url_decode, b64url_encode

SUBPROTOCOL = "push-notification"
MAX_MESSAGE_BYTES = 64 * 1024
Message = dict[str, Any]


@dataclass
class _Pending:
    note: Message
    expires_at: float


@dataclass
class _Client:
    """What the service keeps for one uaid across connections."""

    ws: web.WebSocketResponse | None = None
    channels: dict[str, str] = field(default_factory=dict)  # channelID -> endpoint id
    pending: dict[str, _Pending] = field(default_factory=dict)  # version -> notification


class AutopushHub:
    """Every WebSocket client, by uaid, and the notifications not yet acked."""

    def __init__(
        self, endpoints: Endpoints, journal: Journal, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._endpoints = endpoints
        self._journal = journal
        self._clock = clock
        self._clients: dict[str, _Client] = {}
        self._closing: set[asyncio.Task[Any]] = set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """`GET /`: a WebSocket session, or a line of text for a plain HTTP visit."""
        ws = web.WebSocketResponse(protocols=(SUBPROTOCOL,), max_msg_size=MAX_MESSAGE_BYTES)
        if not ws.can_prepare(request).ok:
            return web.Response(text="pushgate local push service\n")
        await ws.prepare(request)
        session = _Session(self, ws)
        try:
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    await session.receive(frame.data)
        finally:
            self._detach(session.uaid, ws)
        return ws

    async def deliver(self, channel: Channel, version: str, ttl: int, body: bytes) -> None:
        """Send a notification to the channel's client now, or keep it for its reconnect."""
        client = self._clients.setdefault(channel.uaid, _Client())
        if client.ws is None and ttl == 0:
            return  # RFC 8030 §5.2: TTL 0 means deliver now or never
        note: Message = {
            "messageType": "notification",
            "channelID": channel.channel_id,
            "version": version,
            "ttl": ttl,
        }
        if body:
            note["data"] = b64url_encode(body)
            note["headers"] = {"encoding": "aes128gcm"}
        client.pending[version] = _Pending(note, self._clock() + ttl)
        if client.ws is not None:
            await _send(client.ws, note)

    async def close_all(self) -> None:
        sockets = [c.ws for c in self._clients.values() if c.ws is not None]
        await asyncio.gather(*(ws.close() for ws in sockets), *self._closing)

    async def attach(self, uaid: str, ws: web.WebSocketResponse) -> None:
        """Make `ws` the connection of `uaid` (autopush keeps one per uaid), resend unacked."""
        client = self._clients.setdefault(uaid, _Client())
        if client.ws is not None and client.ws is not ws:
            task = asyncio.create_task(client.ws.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        client.ws = ws
        now = self._clock()
        for version, pending in list(client.pending.items()):
            if pending.expires_at < now:
                del client.pending[version]
            else:
                await _send(ws, pending.note)

    def _detach(self, uaid: str | None, ws: web.WebSocketResponse) -> None:
        client = self._clients.get(uaid) if uaid else None
        if client is not None and client.ws is ws:
            client.ws = None

    def register(self, uaid: str, channel_id: str, key: bytes | None) -> str:
        """Bind a fresh endpoint to the channel (releasing any earlier one); return its URL."""
        self.unregister(uaid, channel_id)
        endpoint_id = self._endpoints.new_id()
        self._endpoints.add(endpoint_id, Channel(uaid, channel_id, key))
        self._clients[uaid].channels[channel_id] = endpoint_id
        return self._endpoints.url(endpoint_id)

    def unregister(self, uaid: str, channel_id: str) -> None:
        client = self._clients[uaid]
        endpoint_id = client.channels.pop(channel_id, None)
        if endpoint_id is not None:
            self._endpoints.remove(endpoint_id)
        for version, pending in list(client.pending.items()):
            if pending.note["channelID"] == channel_id:
                del client.pending[version]

    def ack(self, uaid: str, channel_id: str | None, version: str, code: int) -> None:
        client = self._clients[uaid]
        pending = client.pending.pop(version, None)
        if channel_id is None and pending is not None:
            channel_id = pending.note["channelID"]
        endpoint_id = client.channels.get(channel_id or "")
        self._journal.record_ack(Ack(uaid, channel_id or "", version, code, endpoint_id))


class _Session:
    """One WebSocket connection: nothing but hello until hello, then the client's uaid."""

    def __init__(self, hub: AutopushHub, ws: web.WebSocketResponse) -> None:
        self._hub = hub
        self._ws = ws
        self.uaid: str | None = None

    async def receive(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            await self._ws.close(message=b"not a JSON object")
            return
        kind = message.get("messageType")
        if kind == "hello":
            await self._hello(message)
        elif self.uaid is None:
            await self._ws.close(message=b"hello first")
        elif not message:
            await _send(self._ws, {})  # a ping
        elif kind == "register":
            await self._register(self.uaid, message)
        elif kind == "unregister":
            await self._unregister(self.uaid, message)
        elif kind in ("ack", "nack"):
            self._ack(self.uaid, message)
        # Anything else (broadcast_subscribe, ...) is ignored.

    async def _hello(self, message: Message) -> None:
        if self.uaid is not None:
            await self._ws.close(message=b"duplicate hello")
            return
        sent = message.get("uaid")
        # Echo Firefox's uaid: answering another one makes Firefox drop its subscriptions.
        self.uaid = sent if isinstance(sent, str) and sent else uuid.uuid4().hex
        reply = {
            "messageType": "hello",
            "uaid": self.uaid,
            "status": 200,
            "use_webpush": True,
            "broadcasts": {},
        }
        await _send(self._ws, reply)
        await self._hub.attach(self.uaid, self._ws)

    async def _register(self, uaid: str, message: Message) -> None:
        channel_id = message.get("channelID")
        reply: Message = {"messageType": "register", "channelID": channel_id}
        try:
            key = _decode_key(message.get("key"))
        except ValueError:
            await _send(self._ws, {**reply, "status": 400})
            return
        if not isinstance(channel_id, str) or not channel_id:
            await _send(self._ws, {**reply, "status": 400})
            return
        url = self._hub.register(uaid, channel_id, key)
        await _send(self._ws, {**reply, "status": 200, "pushEndpoint": url})

    async def _unregister(self, uaid: str, message: Message) -> None:
        channel_id = message.get("channelID")
        if isinstance(channel_id, str):
            self._hub.unregister(uaid, channel_id)
        await _send(self._ws, {"messageType": "unregister", "channelID": channel_id, "status": 200})

    def _ack(self, uaid: str, message: Message) -> None:
        # An ack carries a list of updates; a nack is one update of its own, with no channelID.
        updates = [message] if message["messageType"] == "nack" else message.get("updates") or []
        for update in updates:
            if isinstance(update, dict) and isinstance(update.get("version"), str):
                channel_id = update.get("channelID")
                code = update.get("code", 100)
                self._hub.ack(
                    uaid,
                    channel_id if isinstance(channel_id, str) else None,
                    update["version"],
                    code if isinstance(code, int) else 0,
                )


def _decode_key(key: object) -> bytes | None:
    """The raw VAPID key of a register message (None when absent); ValueError when malformed."""
    if key is None:
        return None
    raw = b64url_decode(key) if isinstance(key, str) else b""
    if len(raw) != 65:
        raise ValueError("key must be a base64url P-256 public key")
    return raw


async def _send(ws: web.WebSocketResponse, message: Message) -> None:
    if ws.closed:
        return
    # If the client went away meanwhile, unacked notifications wait for its reconnect.
    with contextlib.suppress(ConnectionError):
        await ws.send_str(json.dumps(message))
