"""HTTP side of sending (RFC 8030 §5): one pooled keep-alive client for all push services."""

from __future__ import annotations

from dataclasses import dataclass

from pushgate.webpush.http1 import Http1Client, header_block
from pushgate.webpush.responses import Outcome, Verdict, classify

_ACCEPTED = {status: Outcome(Verdict.ACCEPTED, status) for status in range(200, 300)}
MAX_CACHED_HEADER_BLOCKS = 1024


@dataclass(frozen=True)
class PushRequest:
    endpoint: str
    body: bytes
    authorization: str
    ttl: int
    urgency: str | None = None
    topic: str | None = None

    def header_key(self) -> tuple[str, int, str | None, str | None]:
        return (self.authorization, self.ttl, self.urgency, self.topic)

    def headers(self) -> dict[str, str]:
        headers = {
            "Authorization": self.authorization,
            "TTL": str(self.ttl),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
        }
        if self.urgency:
            headers["Urgency"] = self.urgency
        if self.topic:
            headers["Topic"] = self.topic
        return headers


class PushClient:
    """Posts encrypted messages; never follows redirects, always has a timeout."""

    def __init__(self, *, timeout_seconds: float, max_in_flight_per_host: int) -> None:
        self._http = Http1Client(
            limit_per_origin=max_in_flight_per_host, timeout_seconds=timeout_seconds
        )
        # The headers are the same for every message of a notification to one push service.
        self._header_blocks: dict[tuple[str, int, str | None, str | None], bytes] = {}

    async def __aenter__(self) -> PushClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._http.close()

    async def send(self, request: PushRequest, *, attempt: int = 0) -> Outcome:
        try:
            response = await self._http.post(
                request.endpoint, self._headers_of(request), request.body
            )
        except (TimeoutError, OSError, ConnectionError, ValueError) as exc:
            return classify(0, None, f"{type(exc).__name__}: {exc}", attempt=attempt)
        if 200 <= response.status < 300:
            return _ACCEPTED[response.status]
        excerpt = response.excerpt.decode("utf-8", "replace")
        return classify(response.status, response.retry_after, excerpt, attempt=attempt)

    def _headers_of(self, request: PushRequest) -> bytes:
        key = request.header_key()
        block = self._header_blocks.get(key)
        if block is None:
            if len(self._header_blocks) > MAX_CACHED_HEADER_BLOCKS:
                self._header_blocks.clear()
            block = self._header_blocks[key] = header_block(request.headers())
        return block
