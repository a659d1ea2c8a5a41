"""HTTP side of sending (RFC 8030 §5): one pooled keep-alive client for all push services."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from pushgate.webpush.responses import Outcome, classify

_BODY_EXCERPT_BYTES = 512


@dataclass(frozen=True)
class PushRequest:
    endpoint: str
    body: bytes
    authorization: str
    ttl: int
    urgency: str | None = None
    topic: str | None = None

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

    def __init__(
        self,
        *,
        timeout_seconds: float,
        max_in_flight_per_host: int,
        connector: aiohttp.BaseConnector | None = None,
    ) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._connector = connector or aiohttp.TCPConnector(
            limit=0, limit_per_host=max_in_flight_per_host, keepalive_timeout=60, ttl_dns_cache=300
        )
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> PushClient:
        self._session = aiohttp.ClientSession(
            connector=self._connector, timeout=self._timeout, auto_decompress=False
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session:
            await self._session.close()

    async def send(self, request: PushRequest, *, attempt: int = 0) -> Outcome:
        assert self._session is not None, "use PushClient as an async context manager"
        try:
            async with self._session.post(
                request.endpoint,
                data=request.body,
                headers=request.headers(),
                allow_redirects=False,
            ) as response:
                excerpt = b""
                if response.status >= 300:
                    excerpt = await response.content.read(_BODY_EXCERPT_BYTES)
                else:
                    await response.read()
                return classify(
                    response.status,
                    response.headers.get("Retry-After"),
                    excerpt.decode("utf-8", "replace"),
                    attempt=attempt,
                )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return classify(0, None, f"{type(exc).__name__}: {exc}", attempt=attempt)
