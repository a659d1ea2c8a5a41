"""A minimal Web Push sender for the local push service's tests: signs with VapidSigner,
encrypts with webpush.encryption, and lets a test drop or replace any header."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import jwt

from pushgate.testing import SimulatedBrowser
from pushgate.webpush.b64 import b64url_decode
from pushgate.webpush.encryption import encrypt
from pushgate.webpush.vapid import VapidKeyPair, VapidSigner

SUBJECT = "mailto:ops@example.com"
Overrides = Mapping[str, str | None]


def sign_authorization(keys: VapidKeyPair, claims: dict[str, Any]) -> str:
    """`vapid t=…,k=…` for any claims, even ones VapidSigner (py_vapid) refuses to sign."""
    scalar = int.from_bytes(b64url_decode(keys.private_key), "big")
    token = jwt.sign(claims, ec.derive_private_key(scalar, ec.SECP256R1()))
    return f"vapid t={token},k={keys.public_key}"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


class Pusher:
    def __init__(self, http: aiohttp.ClientSession, signer: VapidSigner) -> None:
        self.http = http
        self.signer = signer

    def headers(self, endpoint: str, overrides: Overrides | None = None) -> dict[str, str]:
        """Valid headers, then `overrides` applied (None removes a header)."""
        overrides = overrides or {}
        headers: dict[str, str | None] = {
            "TTL": "60",
            "Content-Encoding": "aes128gcm",
            "Urgency": "normal",
            **overrides,
        }
        if "Authorization" not in overrides:
            headers["Authorization"] = self.signer.authorization(endpoint)
        return {name: value for name, value in headers.items() if value is not None}

    async def encrypted(
        self,
        browser: SimulatedBrowser,
        plaintext: bytes = b'{"title": "hello"}',
        overrides: Overrides | None = None,
    ) -> Answer:
        body = encrypt(plaintext, browser.p256dh, browser.auth)
        return await self.raw(browser.endpoint, body, overrides)

    async def raw(self, endpoint: str, body: bytes, overrides: Overrides | None = None) -> Answer:
        headers = self.headers(endpoint, overrides)
        async with self.http.post(endpoint, data=body, headers=headers) as response:
            return Answer(response.status, response.headers, await response.text())
