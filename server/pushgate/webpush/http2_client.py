"""POSTs to push services over HTTP/2 where they speak it, HTTP/1.1 elsewhere.

Per origin, the first TLS connection offers ALPN ["h2", "http/1.1"] and its answer decides:
h2 → one connection carries up to the in-flight budget as streams (a few connections when the
push service's MAX_CONCURRENT_STREAMS is lower); http/1.1 (or plain http) → Http1Client's
keep-alive pool. At most once per attempt, as in http1.py: a request is sent again by the
client only when the push service provably did not process it (RFC 9113 §8.7: above a
GOAWAY's last stream id, or refused with REFUSED_STREAM), once, and like a first send: not
while the client is paused, never once it is stopping. Anything else is the engine's.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from urllib.parse import urlsplit

from pushgate.webpush.http1 import (
    FIRST_CONNECT_HEAD_START_SECONDS,
    MAX_PARALLEL_CONNECTS,
    ClientStopping,
    Http1Client,
)
from pushgate.webpush.http1_connection import Response
from pushgate.webpush.http2_connection import STREAMS_BEFORE_SETTINGS, Http2Connection
from pushgate.webpush.http2_hpack import HeaderBlock
from pushgate.webpush.http2_stream import Stream, Unprocessed

MAX_CONNECTIONS_PER_ORIGIN = 4  # HTTP/2: streams run out only past MAX_CONCURRENT_STREAMS
HTTP2_MODES = ("auto", "off")
_HTTP1 = "http/1.1"


class _Origin:
    """An HTTP/2 push service: its connections and the in-flight budget across them."""

    def __init__(self, host: str, port: int, limit: int) -> None:
        self.host, self.port = host, port
        self.prefix = ""  # scheme://host:port as endpoints spell it
        name = f"[{host}]" if ":" in host else host  # an IPv6 literal (RFC 3986 §3.2.2)
        self.authority = (name if port == 443 else f"{name}:{port}").encode("idna")
        self.free = limit
        self.queue: deque[asyncio.Future[None]] = deque()
        self.connections: list[Http2Connection] = []
        self.connecting = False
        self.changed: asyncio.Future[None] | None = None  # set when streams or connections change

    def notify(self) -> None:
        changed, self.changed = self.changed, None
        if changed is not None and not changed.done():
            changed.set_result(None)

    def with_room(self) -> Http2Connection | None:
        best = None
        for connection in self.connections:
            if connection.free_streams > 0 and (
                best is None or connection.free_streams > best.free_streams
            ):
                best = connection
        return best


class _Discovery:
    """Learning an origin's protocol: the first connection's ALPN answer decides."""

    def __init__(self) -> None:
        self.decided: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.started = False
        self.connecting = asyncio.Semaphore(MAX_PARALLEL_CONNECTS)


class PushHttpClient:
    """The push client's HTTP: `post`, `pause`, `stop_new`, `stopping`, `close`, as
    Http1Client, choosing the protocol per origin (`http2`: "auto" or "off")."""

    def __init__(
        self, *, limit_per_origin: int, timeout_seconds: float, http2: str = "auto"
    ) -> None:
        if http2 not in HTTP2_MODES:
            raise ValueError(f"http2 must be one of {', '.join(HTTP2_MODES)}")
        self._http2 = http2 == "auto"
        self._limit = limit_per_origin
        self._timeout = timeout_seconds
        self.http1 = Http1Client(limit_per_origin=limit_per_origin, timeout_seconds=timeout_seconds)
        self._ssl = ssl.create_default_context()  # honours SSL_CERT_FILE
        self._ssl.set_alpn_protocols(["h2", _HTTP1])
        # prefix (scheme://host:port) -> _Origin for HTTP/2, or _HTTP1; absent: not known yet
        self._by_prefix: dict[str, _Origin | str] = {}
        self._discovery: dict[str, _Discovery] = {}
        self._retired: list[_Origin] = []  # no longer offering h2, with streams to sweep
        self._sweeper: asyncio.Task[None] | None = None
        self._shortest_timeout = timeout_seconds

    @property
    def stopping(self) -> bool:
        return self.http1.stopping

    def stop_new(self) -> None:
        self.http1.stop_new()

    def pause(self, paused: bool) -> None:
        self.http1.pause(paused)

    async def post(
        self, url: str, headers: bytes, body: bytes, *, timeout: float | None = None
    ) -> Response:
        """One POST, as Http1Client.post; `headers` a HeaderBlock for HTTP/2 origins."""
        end = url.find("/", url.find("//") + 2)
        prefix = url[:end] if end > 0 else url
        origin = self._by_prefix.get(prefix)
        if origin is None and self._http2 and url.startswith("https://") and end > 0:
            # Learning the protocol is part of the attempt: it counts against its timeout.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + (timeout or self._timeout)
            origin = await self._discover(prefix, deadline, timeout or self._timeout)
            timeout = max(0.001, deadline - loop.time())
        if isinstance(origin, _Origin) and isinstance(headers, HeaderBlock):
            path = url[end:]
            if any(c in path for c in " \t\r\n"):
                raise ValueError("white space inside the request target")
            return await self._post_h2(origin, path.encode("latin-1"), headers, body, timeout)
        return await self.http1.post(url, headers, body, timeout=timeout)

    async def _discover(self, prefix: str, deadline: float, timeout: float) -> _Origin | str:
        """Open a connection to the origin and learn its protocol from ALPN, by the request's
        deadline. The first attempt runs alone for a head start (as in http1.py); requests
        still waiting then open their own, a few at a time, so that one stalled handshake
        holds up no one. The first to finish decides; the others' connections join the pool
        or close."""
        discovery = self._discovery.get(prefix)
        if discovery is None:
            discovery = self._discovery[prefix] = _Discovery()
        try:
            async with asyncio.timeout_at(deadline):
                decided = self._by_prefix.get(prefix)
                if decided is None and discovery.started:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(FIRST_CONNECT_HEAD_START_SECONDS):
                            await asyncio.shield(discovery.decided)
                    decided = self._by_prefix.get(prefix)
                if decided is not None:
                    return decided
                discovery.started = True
                async with discovery.connecting:
                    decided = self._by_prefix.get(prefix)
                    if decided is not None:
                        return decided
                    return self._decide(prefix, discovery, await self._connect_to(prefix))
        except TimeoutError:
            raise TimeoutError(f"no connection within {timeout:g} s") from None

    async def _connect_to(self, prefix: str) -> Http2Connection:
        parts = urlsplit(prefix)
        return await self._connect(_Origin(parts.hostname or "", parts.port or 443, 0))

    def _decide(
        self, prefix: str, discovery: _Discovery, connection: Http2Connection
    ) -> _Origin | str:
        decided = self._by_prefix.get(prefix)
        if decided is None:
            if connection.alpn == "h2":
                host, port = connection.host_port
                decided = _Origin(host, port, self._limit)
                decided.prefix = prefix
            else:
                decided = _HTTP1
            self._by_prefix[prefix] = decided
            if not discovery.decided.done():
                discovery.decided.set_result(None)
        if (
            isinstance(decided, _Origin)
            and connection.alpn == "h2"
            and len(decided.connections) < MAX_CONNECTIONS_PER_ORIGIN
        ):
            connection.on_change = decided.notify
            decided.connections.append(connection)
        else:
            connection.close()  # HTTP/1.1: the pool opens its own (offering only http/1.1)
        return decided

    async def _connect(self, origin: _Origin) -> Http2Connection:
        # Streams a new connection may open before its SETTINGS arrive: as many as the push
        # service allows on the others, if known, else one (http2_connection.py says why).
        known = (c.max_streams for c in origin.connections if c.settled and not c.closed)
        max_streams = next(known, STREAMS_BEFORE_SETTINGS)
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(
            lambda: Http2Connection(
                origin.host, origin.port, origin.authority, origin.notify, max_streams
            ),
            origin.host,
            origin.port,
            ssl=self._ssl,
            server_hostname=origin.host,
        )
        return connection

    async def _post_h2(
        self,
        origin: _Origin,
        path: bytes,
        headers: HeaderBlock,
        body: bytes,
        timeout: float | None,
    ) -> Response:
        if timeout is None:
            timeout = self._timeout
        elif timeout < self._shortest_timeout:
            self._shortest_timeout = timeout
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep())
        if origin.free:
            origin.free -= 1
        else:
            await self._slot(origin)
        try:
            await self._wait_resumed()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            try:
                return await self._attempt(origin, path, headers, body, deadline, timeout)
            except Unprocessed:
                pass  # provably not processed: once more, on whichever connection has room
            # A send like the first: it waits out a pause and ends unsent once stopping.
            if await self._wait_resumed():
                deadline = loop.time() + timeout  # the pause is not the push service's time
            return await self._attempt(origin, path, headers, body, deadline, timeout)
        finally:
            self._give_back(origin)

    async def _attempt(
        self,
        origin: _Origin,
        path: bytes,
        headers: HeaderBlock,
        body: bytes,
        deadline: float,
        timeout: float,
    ) -> Response:
        connection = origin.with_room()
        if connection is None:
            try:
                async with asyncio.timeout_at(deadline):
                    connection = await self._room(origin)
            except TimeoutError:
                raise TimeoutError(f"no connection within {timeout:g} s") from None
        stream = connection.request(headers, path, body, deadline, timeout)
        try:
            return await stream.waiter
        except asyncio.CancelledError:
            connection.cancel(stream, ConnectionError("cancelled"))
            raise

    async def _room(self, origin: _Origin) -> Http2Connection:
        """A connection with a free stream: wait for one, or open one more."""
        while True:
            origin.connections = [c for c in origin.connections if not c.closed]
            connection = origin.with_room()
            if connection is not None:
                return connection
            # One more connection only once the others' SETTINGS are in: before, their room
            # is not known, and is likely to grow (a round trip) past what one more would add.
            if (
                not origin.connecting
                and len(origin.connections) < MAX_CONNECTIONS_PER_ORIGIN
                and all(c.settled for c in origin.connections)
            ):
                origin.connecting = True
                try:
                    connection = await self._connect(origin)
                finally:
                    origin.connecting = False
                    origin.notify()
                if connection.alpn != "h2":
                    connection.close()
                    if self._by_prefix.get(origin.prefix) is origin:
                        del self._by_prefix[origin.prefix]  # the next request learns anew
                        self._retired.append(origin)  # its streams still have deadlines
                    raise ConnectionError("the push service no longer offers HTTP/2")
                origin.connections.append(connection)
                continue
            if origin.changed is None:
                origin.changed = asyncio.get_running_loop().create_future()
            await asyncio.shield(origin.changed)

    async def _wait_resumed(self) -> bool:
        """Http1Client's pause and stop apply here too; True if paused meanwhile."""
        if not self.http1.paused_or_stopping:
            return False
        await self.http1.wait_resumed()
        if self.http1.stopping:
            raise ClientStopping("the client is stopping; the request was not sent")
        return True

    async def _slot(self, origin: _Origin) -> None:
        waiter = asyncio.get_running_loop().create_future()
        origin.queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if not waiter.cancelled():
                self._give_back(origin)
            raise

    def _give_back(self, origin: _Origin) -> None:
        while origin.queue:
            waiter = origin.queue.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        origin.free += 1

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(1.0, self._shortest_timeout / 4))
            now = loop.time()
            for origin in self._origins():
                for connection in origin.connections:
                    connection.expire(now)
            for connection in [c for o in self._retired for c in o.connections]:
                if not connection.streams:
                    connection.close()  # drained: the origin speaks HTTP/1.1 now
            self._retired = [o for o in self._retired if any(not c.closed for c in o.connections)]

    def _origins(self) -> list[_Origin]:
        return [o for o in self._by_prefix.values() if isinstance(o, _Origin)] + self._retired

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for origin in self._origins():
            for connection in origin.connections:
                connection.close()
        await self.http1.close()
        with contextlib.suppress(Exception):
            await asyncio.sleep(0)


__all__ = ["PushHttpClient", "Stream"]
