"""A lean HTTP/1.1 keep-alive client for posting to push services.

Why not aiohttp: measured on this project's 2-core machine, aiohttp spends ~160 µs of CPU per
POST, as much as the message's encryption, while this client (uvloop transports, responses
parsed by httptools, the C parser uvicorn uses) spends ~17 µs. Fan-out is CPU-bound, so that
difference is most of the gateway's throughput. It does only what sending pushes needs: POST
with a body, keep-alive connections pooled per origin, a timeout on every request, TLS with
certificate checks, and no redirects (a 3xx is returned as it is).

At most once per attempt: a POST is not idempotent, so the client sends a request again by
itself only when it provably never reached the push service (RFC 9112 §9.3.1), that is when a
pooled keep-alive connection turns out to be stale: closed before the request was written,
failing the write, or ending with a clean EOF before a single byte of the answer. Any other
failure is raised to the caller, which counts it and retries later with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections import deque
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from pushgate.webpush.http1_connection import (
    Connection,
    RequestNotSent,
    Response,
)

MAX_PARALLEL_CONNECTS = 8  # per origin: the budget of connections opening at once
MAX_ORIGINS = 1024  # prefixes remembered; push services are a handful
# An origin's first connection, and the client's very first, open alone for at most this long
# (seconds): long enough for a TLS handshake to a distant push service, short against a timeout.
FIRST_CONNECT_HEAD_START_SECONDS = 0.5
_WHITE_SPACE = re.compile(r"\s")


def header_block(headers: dict[str, str]) -> bytes:
    """Encode header lines once, for many requests; refuses CR/LF (no header injection)."""
    lines = [f"{name}: {value}\r\n" for name, value in headers.items()]
    if any("\r" in line[:-2] or "\n" in line[:-2] for line in lines):
        raise ValueError("CR or LF inside a header")
    return "".join(lines).encode("latin-1")


class _Alone:
    """Lets the first of many connection attempts run alone for a head start.

    The first TLS handshake then does not compete with a crowd of others for the CPU, so the
    first message is on the wire sooner. The others wait until it has ended, or until its head
    start is over, whichever comes first: a first attempt that fails or stalls never holds up,
    let alone serialises, the attempts behind it."""

    def __init__(self) -> None:
        self._first: asyncio.Future[None] | None = None
        self._until = 0.0  # loop time at which the head start is over

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        first = self._first
        if first is None:
            loop = asyncio.get_running_loop()
            first = self._first = loop.create_future()
            self._until = loop.time() + FIRST_CONNECT_HEAD_START_SECONDS
            try:
                yield
            finally:
                first.set_result(None)
            return
        if not first.done():
            head_start = self._until - asyncio.get_running_loop().time()
            await asyncio.wait([first], timeout=max(0.0, head_start))
        yield


class _Origin:
    def __init__(self, scheme: str, host: str, port: int, limit: int) -> None:
        self.scheme, self.host, self.port = scheme, host, port
        self.netloc = host if port == {"https": 443, "http": 80}[scheme] else f"{host}:{port}"
        if ":" in host:
            self.netloc = f"[{host}]" + ("" if port in (80, 443) else f":{port}")
        if _WHITE_SPACE.search(self.netloc):
            raise ValueError("white space inside the host")  # no request smuggling
        # At most `limit` requests at once, the rest queued in order of arrival: a semaphore
        # whose fast path is inline in `post`, as asyncio.Semaphore's costs two coroutines.
        self.free = limit
        self.queue: deque[asyncio.Future[None]] = deque()
        self.connecting = asyncio.Semaphore(MAX_PARALLEL_CONNECTS)
        self.alone = _Alone()
        self.idle: deque[Connection] = deque()

    async def slot(self) -> None:
        """Wait for a request slot (none is free)."""
        waiter = asyncio.get_running_loop().create_future()
        self.queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if not waiter.cancelled():
                self.give_back()  # handed over just as the request was cancelled
            raise

    def give_back(self) -> None:
        """Hand a slot on to the first request still waiting, or free it."""
        while self.queue:
            waiter = self.queue.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.free += 1


class ClientStopping(Exception):
    """stop_new() was called: this request was never sent."""


class Http1Client:
    """POSTs to push services over pooled keep-alive HTTP/1.1 connections."""

    def __init__(self, *, limit_per_origin: int, timeout_seconds: float) -> None:
        self._limit = limit_per_origin
        self._timeout = timeout_seconds
        self._shortest_timeout = timeout_seconds
        self._origins: dict[tuple[str, str, int], _Origin] = {}
        self._by_prefix: dict[str, _Origin] = {}
        self._ssl = ssl.create_default_context()  # honours SSL_CERT_FILE
        self._ssl.set_alpn_protocols(["http/1.1"])
        self._alone = _Alone()  # the client's very first connection, whatever its origin
        # One sweeper enforces every request's deadline: cheaper than a timer per request.
        self._busy: set[Connection] = set()
        self._sweeper: asyncio.Task[None] | None = None
        # While paused, no new request starts until this is set (None: not paused, so that a
        # request pays one attribute test, not an Event.is_set call).
        self._resume: asyncio.Event | None = None
        self._stopping = False

    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop_new(self) -> None:
        """Start no new request, ever: those waiting raise ClientStopping, those on the wire
        go on to their answer (an orderly shutdown)."""
        self._stopping = True
        if self._resume is None:
            self._resume = asyncio.Event()
        self._resume.set()  # stays in place, so every later request looks, and stops

    @property
    def paused_or_stopping(self) -> bool:
        return self._resume is not None

    async def wait_resumed(self) -> None:
        """Until unpaused (or stopping): for a client that shares this one's pause."""
        if self._resume is not None:
            await self._resume.wait()

    def pause(self, paused: bool) -> None:
        """Start no new request until unpaused; requests already on the wire go on."""
        if self._stopping:
            return
        if paused and self._resume is None:
            self._resume = asyncio.Event()
        elif not paused and self._resume is not None:
            self._resume.set()
            self._resume = None

    async def post(
        self, url: str, headers: bytes, body: bytes, *, timeout: float | None = None
    ) -> Response:
        """One POST; `headers` from `header_block`; `timeout` in seconds, the client's by
        default. Raises OSError (ConnectionError included) or TimeoutError when there is no
        answer, and never sends the request twice unless the first copy provably never
        reached the push service."""
        if timeout is None:
            timeout = self._timeout
        elif timeout < self._shortest_timeout:
            self._shortest_timeout = timeout  # the sweeper looks more often
        origin, target = self._split(url)
        data = self._head(target, origin.netloc, headers, len(body)) + body
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep())
        if origin.free:
            origin.free -= 1
        else:
            await origin.slot()
        try:
            if self._resume is not None:
                await self._resume.wait()
                if self._stopping:
                    raise ClientStopping("the client is stopping; the request was not sent")
            # The timeout covers the whole attempt from here: waiting for a connection to
            # open, the TCP connect, the TLS handshake, the write and the entire answer.
            deadline = asyncio.get_running_loop().time() + timeout
            connection = self._idle_connection(origin)
            if connection is None:
                connection = await self._open(origin, timeout, deadline, fresh=False)
            try:
                return await self._send_on(origin, connection, data, timeout, deadline)
            except RequestNotSent:
                if not connection.reused:
                    raise
            # A stale pooled connection: this request never left, so it goes once more, on a
            # new connection (another pooled one may be just as stale).
            connection = await self._open(origin, timeout, deadline, fresh=True)
            return await self._send_on(origin, connection, data, timeout, deadline)
        finally:
            if origin.queue:
                origin.give_back()
            else:
                origin.free += 1

    def _split(self, url: str) -> tuple[_Origin, str]:
        """The origin and request target of a URL. Endpoints of one push service share their
        scheme://host:port prefix, so a parsed prefix is found again by a string lookup
        (urlsplit per message cost more than the rest of the request's Python code)."""
        end = url.find("/", url.find("//") + 2)
        if end > 0:
            origin = self._by_prefix.get(url[:end])
            if origin is not None:
                return origin, url[end:]
        parts = urlsplit(url)
        scheme = parts.scheme
        if scheme not in ("http", "https") or not parts.hostname or parts.fragment:
            raise ValueError(f"cannot post to {url!r}")
        port = parts.port or (443 if scheme == "https" else 80)
        origin = self._origin(scheme, parts.hostname, port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if end > 0 and url[end:] == target:  # a plain URL: its prefix can be trusted again
            if len(self._by_prefix) >= MAX_ORIGINS:
                self._by_prefix.clear()
            self._by_prefix[url[:end]] = origin
        return origin, target

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(1.0, self._shortest_timeout / 4))
            now = loop.time()
            for connection in [c for c in self._busy if c.deadline < now]:
                connection.fail(TimeoutError(f"no answer within {connection.timeout:g} s"))
                connection.close()

    async def _open(
        self, origin: _Origin, timeout: float, deadline: float, *, fresh: bool
    ) -> Connection:
        """A connection for one request, by its deadline. Only this slow path pays for a
        timer of its own."""
        try:
            async with asyncio.timeout_at(deadline):
                return await self._connection_for(origin, fresh=fresh)
        except TimeoutError:
            raise TimeoutError(f"no connection within {timeout:g} s") from None

    async def _connection_for(self, origin: _Origin, *, fresh: bool) -> Connection:
        """One given back meanwhile (unless `fresh`), or a new one."""
        # Open connections a few at a time: a burst of TLS handshakes would hold up every
        # request, the first one included, while a request that waits here may meanwhile
        # find a connection another request has given back.
        async with origin.alone.turn(), origin.connecting:
            connection = None if fresh else self._idle_connection(origin)
            if connection is None:
                async with self._alone.turn():
                    connection = await self._connect(origin)
        return connection

    async def _send_on(
        self,
        origin: _Origin,
        connection: Connection,
        data: bytes,
        timeout: float,
        deadline: float,
    ) -> Response:
        connection.deadline, connection.timeout = deadline, timeout
        self._busy.add(connection)
        try:
            response = await connection.request(data)
        except BaseException:
            connection.close()
            raise
        finally:
            self._busy.discard(connection)
        if connection.usable:
            origin.idle.append(connection)
        else:
            connection.close()
        return response

    def _idle_connection(self, origin: _Origin) -> Connection | None:
        while origin.idle:
            connection = origin.idle.pop()
            if connection.usable:
                return connection
        return None

    async def _connect(self, origin: _Origin) -> Connection:
        loop = asyncio.get_running_loop()
        secure = origin.scheme == "https"
        _, protocol = await loop.create_connection(
            Connection,
            origin.host,
            origin.port,
            ssl=self._ssl if secure else None,
            server_hostname=origin.host if secure else None,
        )
        return protocol

    def _origin(self, scheme: str, host: str, port: int) -> _Origin:
        key = (scheme, host, port)
        origin = self._origins.get(key)
        if origin is None:
            origin = self._origins[key] = _Origin(scheme, host, port, self._limit)
        return origin

    @staticmethod
    def _head(target: str, netloc: str, headers: bytes, length: int) -> bytes:
        if _WHITE_SPACE.search(target):
            raise ValueError("white space inside the request target")  # no request smuggling
        start = f"POST {target} HTTP/1.1\r\nHost: {netloc}\r\nContent-Length: {length}\r\n"
        return start.encode("latin-1") + headers + b"\r\n"

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for origin in self._origins.values():
            while origin.idle:
                origin.idle.pop().close()
        with contextlib.suppress(Exception):
            await asyncio.sleep(0)
