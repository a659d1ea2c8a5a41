"""Per-delivery event tokens: who got which notification, signed so statistics cannot be forged.

token = base64url(notification_key ‖ subscription_key ‖ HMAC-SHA-256(secret, both)[:16])
"""

from __future__ import annotations

import hmac
import struct

from pushgate.webpush.b64 import b64url_decode, b64url_encode
from pushgate.webpush.hmac256 import hmac_sha256

_CONTEXT = b"pushgate-event-token\x00"
_IDS = struct.Struct(">QQ")
MAC_BYTES = 16
TOKEN_LENGTH = 43  # base64url of 32 bytes, no padding


def make_token(secret: bytes, notification_key: int, subscription_key: int) -> str:
    ids = _IDS.pack(notification_key, subscription_key)
    return b64url_encode(ids + hmac_sha256(secret, _CONTEXT + ids)[:MAC_BYTES])


def read_token(secret: bytes, token: object) -> tuple[int, int] | None:
    """The (notification_key, subscription_key) a genuine token names, else None."""
    if not isinstance(token, str) or len(token) != TOKEN_LENGTH:
        return None
    try:
        raw = b64url_decode(token)
    except ValueError:
        return None
    ids, mac = raw[: _IDS.size], raw[_IDS.size :]
    expected = hmac_sha256(secret, _CONTEXT + ids)[:MAC_BYTES]
    if len(raw) != _IDS.size + MAC_BYTES or not hmac.compare_digest(mac, expected):
        return None
    notification_key, subscription_key = _IDS.unpack(ids)
    return notification_key, subscription_key
