"""HTTP side of sending (RFC 8030 §5): one pooled keep-alive client for all push services."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pushgate.webpush.http2_client import PushHttpClient
from pushgate.webpush.http2_hpack import HeaderBlock, request_headers
from pushgate.webpush.pacing import Window
from pushgate.webpush.quirks import classify_answer
from pushgate.webpush.responses import Outcome, Verdict, backoff_delay, classify

_ACCEPTED = {status: Outcome(Verdict.ACCEPTED, status) for status in range(200, 300)}
MAX_CACHED_HEADER_BLOCKS = 1024
MAX_WINDOWS = 1024  # origins paced; push services are a handful


def push_headers(
    authorization: str, ttl: int, urgency: str | None, topic: str | None
) -> dict[str, str]:
    """The headers of one push message (RFC 8030 §5.2-5.4, RFC 8188, RFC 8292)."""
    headers = {
        "Authorization": authorization,
        "TTL": str(ttl),
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
    }
    if urgency:
        headers["Urgency"] = urgency
    if topic:
        headers["Topic"] = topic
    return headers


class PushClient:
    """Posts encrypted messages; never follows redirects, always has a timeout."""

    def __init__(
        self,
        *,
        timeout_seconds: float,
        max_in_flight_per_host: int,
        service_of: Callable[[str], str] = lambda endpoint: "other",
        http2: str = "auto",
        pace: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # `service_of`: an endpoint's push service (fcm, mozilla, apple, wns, other), which
        # picks the rows of the quirk table that explain its refusals. `http2`: "auto" speaks
        # HTTP/2 to push services that offer it (ALPN), "off" only HTTP/1.1. `pace`: each
        # origin's requests in flight follow its latency and rate (pacing.py), up to
        # `max_in_flight_per_host`, timed by `clock`; without it, that maximum at once.
        self._pace = pace
        self._service_of = service_of
        self._max_in_flight = max_in_flight_per_host
        self._clock = clock
        self._windows: dict[str, Window] = {}  # scheme://host:port -> its in-flight window
        self._http = PushHttpClient(
            limit_per_origin=max_in_flight_per_host, timeout_seconds=timeout_seconds, http2=http2
        )
        # The headers are the same for every message of a notification to one push service.
        self._header_blocks: dict[tuple[str, int, str | None, str | None], HeaderBlock] = {}

    async def __aenter__(self) -> PushClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._http.close()

    def pause(self, paused: bool) -> None:
        """Hold every message not on the wire yet (while its outcome could not be recorded)."""
        self._http.pause(paused)

    def headers(
        self, authorization: str, ttl: int, urgency: str | None, topic: str | None
    ) -> HeaderBlock:
        """The encoded headers for `send`, made once per distinct set."""
        key = (authorization, ttl, urgency, topic)
        block = self._header_blocks.get(key)
        if block is None:
            if len(self._header_blocks) > MAX_CACHED_HEADER_BLOCKS:
                self._header_blocks.clear()
            block = self._header_blocks[key] = request_headers(push_headers(*key))
        return block

    def stop_new(self) -> None:
        """Send nothing more: messages not on the wire yet raise ClientStopping."""
        self._http.stop_new()

    @property
    def stopping(self) -> bool:
        return self._http.stopping

    async def send(self, endpoint: str, body: bytes, headers: bytes, **options: Any) -> Outcome:
        """POST one encrypted body with headers from `headers()`, and classify the answer;
        `options` as for `send_timed`."""
        outcome, _ = await self.send_timed(endpoint, body, headers, **options)
        return outcome

    def window(self, endpoint: str) -> Window:
        """The in-flight window of the endpoint's origin (its scheme://host:port)."""
        end = endpoint.find("/", endpoint.find("//") + 2)
        prefix = endpoint if end < 0 else endpoint[:end]
        window = self._windows.get(prefix)
        if window is None:
            if len(self._windows) >= MAX_WINDOWS:
                self._windows.clear()  # requests in flight keep theirs until they end
            window = self._windows[prefix] = Window(self._max_in_flight, clock=self._clock)
        return window

    async def send_timed(
        self,
        endpoint: str,
        body: bytes,
        headers: bytes,
        *,
        attempt: int = 0,
        timeout: float | None = None,
    ) -> tuple[Outcome, float]:
        """POST and classify, and the seconds the push service took to answer (0.0 without an
        answer: time spent waiting for a connection is the client's, not the service's).
        `timeout` (seconds, the client's by default) covers connecting and the whole answer;
        `attempt` sets the backoff of a retry."""
        if not self._pace:
            return await self._post(endpoint, body, headers, attempt, timeout, None, 0)
        window = self.window(endpoint)
        number = window.try_acquire()
        if number is None:
            # Not counted against the timeout, as the wait for a slot is not: the wait is ours,
            # and a timeout tells the engine the push service is slow.
            number = await window.acquire()
        return await self._post(endpoint, body, headers, attempt, timeout, window, number)

    async def _post(
        self,
        endpoint: str,
        body: bytes,
        headers: bytes,
        attempt: int,
        timeout: float | None,
        window: Window | None,
        number: int,
    ) -> tuple[Outcome, float]:
        seconds = 0.0
        try:
            response = await self._http.post(endpoint, headers, body, timeout=timeout)
            seconds = response.seconds
        except TimeoutError as exc:  # named as such: the caller tells slow from broken by it
            return Outcome(Verdict.RETRY, 0, f"TimeoutError: {exc}", backoff_delay(attempt)), 0.0
        except (OSError, ConnectionError, ValueError) as exc:
            return classify(0, None, f"{type(exc).__name__}: {exc}", attempt=attempt), 0.0
        finally:
            if window is not None:
                window.release(number, seconds)
        if 200 <= response.status < 300:
            return _ACCEPTED[response.status], response.seconds
        excerpt = response.excerpt.decode("utf-8", "replace")
        outcome = classify_answer(
            self._service_of(endpoint),
            response.status,
            response.retry_after,
            excerpt,
            dict(response.headers),
            attempt=attempt,
        )
        return outcome, response.seconds
