"""What the local push service saw: accepted messages, every request, and Firefox's acks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pushgate.testing.waiting import ArrivalWaiter
from pushgate.webpush.b64 import b64url_encode


@dataclass(frozen=True)
class ReceivedMessage:
    """One push the service accepted (201), decrypted when a simulated browser holds the key.

    `decrypt_error` is None when the body decrypted (or was empty); messages for a real browser
    connected over WebSocket are not decryptable here, so they carry `via_websocket=True`,
    `plaintext=b""`, and the ciphertext in `body` (their `message_id` is the notification
    `version` Firefox acks).
    """

    endpoint_id: str
    message_id: str
    plaintext: bytes
    headers: dict[str, str]
    vapid_claims: dict[str, Any]
    vapid_public_key: str
    received_at: float
    body: bytes = field(default=b"", repr=False)
    decrypt_error: str | None = None
    via_websocket: bool = False

    def json(self) -> Any:
        """The plaintext parsed as JSON."""
        return json.loads(self.plaintext)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary, as `GET /_test/received` returns it."""
        return {
            "endpoint_id": self.endpoint_id,
            "message_id": self.message_id,
            "plaintext": self.plaintext.decode("utf-8", errors="replace"),
            "body": b64url_encode(self.body),
            "headers": self.headers,
            "vapid_claims": self.vapid_claims,
            "vapid_public_key": self.vapid_public_key,
            "received_at": self.received_at,
            "decrypt_error": self.decrypt_error,
            "via_websocket": self.via_websocket,
        }


@dataclass(frozen=True)
class RecordedRequest:
    """Any request to `POST /push/{id}`, accepted or not, with the status it was answered."""

    endpoint_id: str
    status: int
    headers: Mapping[str, str]  # every header as sent, looked up case-insensitively
    body_size: int
    received_at: float
    error: str | None = None
    fault: bool = False
    protocol: str = "http/1.1"  # as ALPN names it: "http/1.1" or "h2"


@dataclass(frozen=True)
class Ack:
    """One update from a WebSocket client's `ack`: code 100 delivered, 101 could not decrypt."""

    uaid: str
    channel_id: str
    version: str
    code: int
    endpoint_id: str | None


class Journal:
    """The service's memory: accepted messages, every push request, and acks, in order."""

    def __init__(self) -> None:
        self.received: list[ReceivedMessage] = []
        self.requests: list[RecordedRequest] = []
        self.acks: list[Ack] = []
        self._received = ArrivalWaiter(self.received, "messages received")
        self._acks = ArrivalWaiter(self.acks, "acks received")

    def record_request(self, request: RecordedRequest) -> None:
        self.requests.append(request)

    def record_received(self, message: ReceivedMessage) -> None:
        self.received.append(message)
        self._received.notify()

    def record_ack(self, ack: Ack) -> None:
        self.acks.append(ack)
        self._acks.notify()

    async def wait_for_received(self, n: int, timeout: float) -> None:
        await self._received.wait_for(n, timeout)

    async def wait_for_acks(self, n: int, timeout: float) -> None:
        await self._acks.wait_for(n, timeout)
