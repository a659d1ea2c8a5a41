"""One HTTP/1.1 keep-alive connection to a push service, and how its answers are read.

One request at a time (no pipelining). The answer is read as RFC 9112 says: interim 1xx
answers are skipped, a close-delimited body is read to EOF and keeps its status (§6.3), and
bytes that arrive while no request is waiting close the connection, so they are never taken
for the answer to a later request.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import cast

import httptools

from pushgate.webpush.quirks import QUIRK_HEADERS

EXCERPT_BYTES = 512  # of an answer's body, kept as the reason of a refusal
_KEPT_HEADERS = frozenset(name.encode() for name in QUIRK_HEADERS)  # read by the quirk table


@dataclass(frozen=True)
class Response:
    status: int
    retry_after: str | None
    excerpt: bytes
    seconds: float = 0.0  # from the request's write to its answer: the push service's latency
    headers: tuple[tuple[str, str], ...] = ()  # those the quirk table reads (lower-case names)


class RequestNotSent(ConnectionError):
    """The connection closed before the request could have reached the push service."""


class BadResponse(ConnectionError):
    """The push service's answer was malformed, incomplete, or answered no request."""


class Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Response] | None = None
        self.usable = True
        self.reused = False  # it has answered a request: it may have gone stale in the pool
        self.answering = False  # a byte of the current request's answer has arrived
        self.deadline = 0.0  # loop time by which the current request must be answered
        self.timeout = 0.0  # the current request's timeout, in seconds
        self._headers_done = False
        self._framed = False  # Content-Length or chunked: the answer does not end at EOF
        self._retry_after: str | None = None
        self._excerpt = bytearray()
        self._kept: list[tuple[str, str]] = []
        self._sent_at = 0.0

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:
            # Answers come in request order (RFC 9112 §9.3): bytes when nothing is asked answer
            # no request of ours, and must never be taken for the next request's answer.
            self.close()
            return
        self.answering = True
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self.fail(BadResponse(f"bad HTTP response: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        if self.waiter is None:
            return
        if exc is None and self._headers_done and not self._framed:
            self.on_message_complete()  # a close-delimited answer ends at EOF (RFC 9112 §6.3)
        elif (
            not self.answering and self.reused and (exc is None or isinstance(exc, BrokenPipeError))
        ):
            # EOF, or EPIPE on the write: the push service shut the connection before it
            # could have read this request, as it may any idle one (RFC 9112 §9.6).
            self.fail(RequestNotSent("the push service had closed the pooled connection"))
        elif self.answering:
            self.fail(BadResponse(f"connection lost mid-answer: {exc or 'EOF'}"))
        else:
            self.fail(exc or ConnectionError("connection closed by the push service"))

    # httptools callbacks
    def on_message_begin(self) -> None:
        if self.waiter is None:  # a second answer in the same packet as the first
            raise BadResponse("an answer to no request")

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"retry-after":
            self._retry_after = value.decode("latin-1")
        elif name == b"content-length":
            self._framed = True
        elif name == b"transfer-encoding":
            self._framed = b"chunked" in value.lower()
        elif name in _KEPT_HEADERS:
            self._kept.append((name.decode(), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        if len(self._excerpt) < EXCERPT_BYTES:
            self._excerpt += body[: EXCERPT_BYTES - len(self._excerpt)]

    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:
            self._interim(status)
            return
        if not self.parser.should_keep_alive():
            self.usable = False
        seconds = time.monotonic() - self._sent_at
        kept = tuple(self._kept)
        response = Response(status, self._retry_after, bytes(self._excerpt), seconds, kept)
        self._headers_done = self._framed = False
        self._retry_after, self._excerpt, self._kept = None, bytearray(), []
        self.reused = True
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(response)

    # requests
    def request(self, data: bytes) -> asyncio.Future[Response]:
        transport = self.transport
        if transport is None or transport.is_closing():
            raise RequestNotSent("connection is closed")
        self.answering = False
        waiter = self.waiter = asyncio.get_running_loop().create_future()
        self._sent_at = time.monotonic()
        transport.write(data)  # one write, one syscall
        if transport.is_closing():  # the write failed at once: nothing was sent
            self.waiter = None
            raise RequestNotSent("the write failed")
        return waiter

    def close(self) -> None:
        self.usable = False
        if self.transport is not None:
            self.transport.close()

    def fail(self, exc: BaseException) -> None:
        self.usable = False
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def _interim(self, status: int) -> None:
        """Skip a 1xx: after 103 Early Hints or 100 Continue, the final answer follows on the
        same request (RFC 9110 §15.2); we never ask to switch protocols (101)."""
        if status == 101:
            self.fail(BadResponse("101 Switching Protocols was not asked for"))
        self._headers_done = self._framed = False
        self._retry_after, self._excerpt, self._kept = None, bytearray(), []
