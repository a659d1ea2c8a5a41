"""One HTTP/2 stream carrying one push request (RFC 9113 §5.1): its send window and the body
still to go, its answer as the frames bring it, and the errors that say whether the push
service may have processed it."""

from __future__ import annotations

import asyncio

from pushgate.webpush.http1_connection import EXCERPT_BYTES, RequestNotSent, Response
from pushgate.webpush.quirks import QUIRK_HEADERS

_KEPT_HEADERS = frozenset(name.encode() for name in QUIRK_HEADERS)  # read by the quirk table


class Unprocessed(RequestNotSent):
    """The push service did not process this request (GOAWAY, REFUSED_STREAM): it may be sent
    again, once."""


class StreamReset(ConnectionError):
    """The push service reset the stream (RST_STREAM) after it may have processed it."""


def answer_status(fields: list[tuple[bytes, bytes]]) -> int:
    """An answer's :status (0 when missing or not a number)."""
    return next((int(v) for n, v in fields if n == b":status" and v.isdigit()), 0)


class Stream:
    __slots__ = (
        "id", "waiter", "deadline", "timeout", "window", "pending",
        "status", "retry_after", "excerpt", "kept", "sent_at", "received",
    )  # fmt: skip

    def __init__(self, stream_id: int, waiter: asyncio.Future[Response], window: int) -> None:
        self.id, self.waiter, self.window = stream_id, waiter, window
        self.deadline = self.timeout = 0.0
        self.pending = memoryview(b"")  # body bytes not yet within the windows
        self.status = 0
        self.retry_after: str | None = None
        self.excerpt = b""
        self.kept: list[tuple[str, str]] = []
        self.sent_at = 0.0
        self.received = 0  # DATA bytes not yet given back with a WINDOW_UPDATE

    def answered(self, status: int, fields: list[tuple[bytes, bytes]]) -> None:
        """The final answer's header fields: its status and the headers the quirk table reads."""
        self.status = status
        for name, value in fields:
            if name == b"retry-after":
                self.retry_after = value.decode("latin-1")
            elif name in _KEPT_HEADERS:
                self.kept.append((name.decode(), value.decode("latin-1")))

    def add_body(self, data: bytes) -> None:
        """Keep the start of the answer's body: the reason of a refusal."""
        if len(self.excerpt) < EXCERPT_BYTES:
            self.excerpt += data[: EXCERPT_BYTES - len(self.excerpt)]

    def response(self, now: float) -> Response:
        return Response(
            self.status, self.retry_after, self.excerpt, now - self.sent_at, tuple(self.kept)
        )
