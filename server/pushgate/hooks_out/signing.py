"""The signature a receiver checks: `X-Pushgate-Signature: sha256=<hex HMAC-SHA256 of the exact
body bytes, keyed with the hook's secret>`."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Pushgate-Signature"


def signature(body: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(body: bytes, secret: str, header: str | None) -> bool:
    """What a receiver does (and the tests): compare in constant time."""
    return header is not None and hmac.compare_digest(signature(body, secret), header)
