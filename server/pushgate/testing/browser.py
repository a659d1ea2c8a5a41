"""A simulated browser: a push subscription whose private key the test holds (RFC 8291 §3)."""

from __future__ import annotations

import os
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pushgate.testing.records import ReceivedMessage
from pushgate.testing.waiting import ArrivalWaiter
from pushgate.webpush.b64 import b64url_decode, b64url_encode
from pushgate.webpush.encryption import DecryptionError, decrypt

AUTH_SECRET_BYTES = 16  # RFC 8291 §3.2


class SimulatedBrowser:
    """One subscription on the local push service; decrypts what is pushed to it."""

    def __init__(
        self, endpoint_id: str, endpoint: str, application_server_key: str | None = None
    ) -> None:
        self.id = endpoint_id
        self.endpoint = endpoint
        # Set when subscribed with an applicationServerKey: pushes must then be signed with it.
        self.application_server_key = (
            b64url_decode(application_server_key) if application_server_key else None
        )
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth_secret = os.urandom(AUTH_SECRET_BYTES)
        raw = self.private_key.public_key().public_bytes(
            Encoding.X962, PublicFormat.UncompressedPoint
        )
        self.p256dh = b64url_encode(raw)
        self.auth = b64url_encode(self.auth_secret)
        self.messages: list[ReceivedMessage] = []
        self._arrivals = ArrivalWaiter(self.messages, f"browser {endpoint_id} messages")

    def __repr__(self) -> str:
        return f"SimulatedBrowser(id={self.id!r}, messages={len(self.messages)})"

    def subscription(self) -> dict[str, Any]:
        """The `PushSubscription.toJSON()` a real browser would hand to the page."""
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": self.auth},
        }

    def decrypt(self, body: bytes) -> tuple[bytes, str | None]:
        """Plaintext and None, or b"" and why the body did not decrypt."""
        if not body:
            return b"", None
        try:
            return decrypt(body, self.private_key, self.auth_secret), None
        except DecryptionError as exc:
            return b"", str(exc)

    async def wait_for(self, n: int, timeout: float = 10) -> list[ReceivedMessage]:
        """Wait until this browser has received at least `n` messages; return them all."""
        await self._arrivals.wait_for(n, timeout)
        return self.messages

    def deliver(self, message: ReceivedMessage) -> None:
        self.messages.append(message)
        self._arrivals.notify()
