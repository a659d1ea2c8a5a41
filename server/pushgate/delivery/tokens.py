"""Per-delivery event tokens: who got which notification, opaque, and signed against forgery.

c = AES-128(k_ids, notification_key ‖ subscription_key)   (64 bits each: one block)
token = base64url(c ‖ HMAC-SHA-256(k_mac, c)[:16])

One block encryption (a keyed pseudorandom permutation) hides the database keys: consecutive
keys give unrelated tokens, and a token says nothing about how many subscribers or notifications
there are. The MAC over the ciphertext lets `POST /v1/events` refuse a forged token without a
database lookup. Both keys are derived from the store's event secret with distinct labels (HMAC
as a PRF, RFC 5869's extract step being unneeded for a uniform 32-byte secret); the token stays
43 characters.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from functools import lru_cache
from typing import NamedTuple

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from pushgate.webpush.b64 import b64url_decode, b64url_encode
from pushgate.webpush.hmac256 import BLOCK_BYTES, hmac_sha256

_ID_KEY_LABEL = b"pushgate-event-token-ids\x00"
_MAC_KEY_LABEL = b"pushgate-event-token-mac\x00"
_IDS = struct.Struct(">QQ")  # one AES block
MAC_BYTES = 16
TOKEN_LENGTH = 43  # base64url of 32 bytes, no padding
_SECRETS_CACHED = 8  # one event secret per database; a few more for tests


class _Keys(NamedTuple):
    # ECB contexts for exactly one block each call: no chaining state, so reusing one context
    # skips the key schedule and the context set-up (~2 µs) on every token.
    encryptor: CipherContext
    decryptor: CipherContext
    inner: hashlib._Hash  # SHA-256 primed with k_mac ⊕ ipad (RFC 2104), copied per token
    outer: hashlib._Hash  # ... and with k_mac ⊕ opad


@lru_cache(maxsize=_SECRETS_CACHED)
def _keys(secret: bytes) -> _Keys:
    id_key = hmac_sha256(secret, _ID_KEY_LABEL)[:16]
    mac_key = hmac_sha256(secret, _MAC_KEY_LABEL).ljust(BLOCK_BYTES, b"\0")
    cipher = Cipher(algorithms.AES(id_key), modes.ECB())  # one block a token: no mode needed
    return _Keys(
        cipher.encryptor(),
        cipher.decryptor(),
        hashlib.sha256(bytes(b ^ 0x36 for b in mac_key)),
        hashlib.sha256(bytes(b ^ 0x5C for b in mac_key)),
    )


def _mac(keys: _Keys, ciphertext: bytes) -> bytes:
    inner = keys.inner.copy()
    inner.update(ciphertext)
    outer = keys.outer.copy()
    outer.update(inner.digest())
    return outer.digest()[:MAC_BYTES]


def make_token(secret: bytes, notification_key: int, subscription_key: int) -> str:
    keys = _keys(secret)
    ciphertext = keys.encryptor.update(_IDS.pack(notification_key, subscription_key))
    return b64url_encode(ciphertext + _mac(keys, ciphertext))


def read_token(secret: bytes, token: object) -> tuple[int, int] | None:
    """The (notification_key, subscription_key) a genuine token names, else None."""
    if not isinstance(token, str) or len(token) != TOKEN_LENGTH:
        return None
    try:
        raw = b64url_decode(token)
    except ValueError:
        return None
    if len(raw) != _IDS.size + MAC_BYTES or b64url_encode(raw) != token:
        return None  # the last character has 2 spare bits: only the canonical spelling counts
    keys = _keys(secret)
    ciphertext, mac = raw[: _IDS.size], raw[_IDS.size :]
    if not hmac.compare_digest(mac, _mac(keys, ciphertext)):
        return None
    notification_key, subscription_key = _IDS.unpack(keys.decryptor.update(ciphertext))
    return notification_key, subscription_key
