"""Message encryption for Web Push, RFC 8291 with the aes128gcm content coding of RFC 8188.

One message is one record: header (salt, record size, sender's public key), then the plaintext
with its 0x02 delimiter, sealed with AES-128-GCM. A fresh ECDH key pair and salt per message,
as RFC 8291 §3.4 requires.
"""

from __future__ import annotations

import os
import struct

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pushgate.webpush.b64 import b64url_decode
from pushgate.webpush.hmac256 import hmac_sha256
from pushgate.webpush.p256 import is_uncompressed_point

RECORD_SIZE = 4096
MAX_BODY_BYTES = 4096  # RFC 8030 §7.2: push services must accept at least 4096 bytes.
HEADER_BYTES = 16 + 4 + 1 + 65
TAG_BYTES = 16
# 4096 - 86 (header) - 16 (GCM tag) - 1 (padding delimiter) = 3993.
MAX_PLAINTEXT_BYTES = MAX_BODY_BYTES - HEADER_BYTES - TAG_BYTES - 1

_CURVE = ec.SECP256R1()
_ECDH = ec.ECDH()
_RECORD_HEADER = struct.pack("!IB", RECORD_SIZE, 65)  # record size, then the key id's length
_KEY_INFO = b"WebPush: info\x00"
_CEK_INFO = b"Content-Encoding: aes128gcm\x00\x01"
_NONCE_INFO = b"Content-Encoding: nonce\x00\x01"


class InvalidSubscriptionKeys(ValueError):
    """p256dh is not an uncompressed P-256 point, or auth is not 16 bytes."""


class DecryptionError(ValueError):
    """The body is not a valid aes128gcm Web Push message for these keys."""


def load_subscriber_keys(p256dh: str, auth: str) -> tuple[ec.EllipticCurvePublicKey, bytes]:
    """Decode and check a subscription's keys (RFC 8291 §3.2)."""
    public, _, secret = _load_keys(p256dh, auth)
    return public, secret


def check_subscriber_keys(p256dh: str, auth: str) -> None:
    """InvalidSubscriptionKeys unless these keys would load (what subscribe checks), without
    making a key object."""
    raw_public, _ = _decode_keys(p256dh, auth)
    if not is_uncompressed_point(raw_public):
        raise InvalidSubscriptionKeys("p256dh is not a point on P-256")


def _decode_keys(p256dh: str, auth: str) -> tuple[bytes, bytes]:
    try:
        raw_public = b64url_decode(p256dh)
        secret = b64url_decode(auth)
    except ValueError as exc:
        raise InvalidSubscriptionKeys("keys must be base64url") from exc
    if len(raw_public) != 65 or raw_public[0] != 4:
        raise InvalidSubscriptionKeys("p256dh must be a 65-byte uncompressed P-256 point")
    if len(secret) != 16:
        raise InvalidSubscriptionKeys("auth must be 16 bytes")
    return raw_public, secret


def _load_keys(p256dh: str, auth: str) -> tuple[ec.EllipticCurvePublicKey, bytes, bytes]:
    """The subscriber's key, its 65-byte encoding, and the auth secret."""
    raw_public, secret = _decode_keys(p256dh, auth)
    try:
        public = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, raw_public)
    except ValueError as exc:
        raise InvalidSubscriptionKeys("p256dh is not a point on P-256") from exc
    return public, raw_public, secret


def _hkdf_once(salt: bytes, ikm: bytes, info_with_counter: bytes, length: int) -> bytes:
    """HKDF-SHA-256 (RFC 5869) for outputs of one block: extract, then one expand step."""
    prk = hmac_sha256(salt, ikm)
    return hmac_sha256(prk, info_with_counter)[:length]


def _derive(
    auth: bytes, ecdh_secret: bytes, ua_public: bytes, as_public: bytes, salt: bytes
) -> tuple[bytes, bytes]:
    ikm = _hkdf_once(auth, ecdh_secret, _KEY_INFO + ua_public + as_public + b"\x01", 32)
    prk = hmac_sha256(salt, ikm)
    cek = hmac_sha256(prk, _CEK_INFO)[:16]
    nonce = hmac_sha256(prk, _NONCE_INFO)[:12]
    return cek, nonce


def encrypt(
    plaintext: bytes,
    p256dh: str,
    auth: str,
    *,
    salt: bytes | None = None,
    sender_key: ec.EllipticCurvePrivateKey | None = None,
) -> bytes:
    """Encrypt one push message body for one subscriber. `salt` and `sender_key` are for tests."""
    if len(plaintext) > MAX_PLAINTEXT_BYTES:
        raise ValueError(f"plaintext is {len(plaintext)} bytes, at most {MAX_PLAINTEXT_BYTES}")
    ua_key, ua_public, auth_secret = _load_keys(p256dh, auth)
    salt = salt or os.urandom(16)
    sender_key = sender_key or ec.generate_private_key(_CURVE)
    as_public = sender_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    ecdh_secret = sender_key.exchange(_ECDH, ua_key)
    cek, nonce = _derive(auth_secret, ecdh_secret, ua_public, as_public, salt)
    sealed = AESGCM(cek).encrypt(nonce, plaintext + b"\x02", None)
    return salt + _RECORD_HEADER + as_public + sealed


def decrypt(body: bytes, ua_private: ec.EllipticCurvePrivateKey, auth_secret: bytes) -> bytes:
    """Decrypt an aes128gcm Web Push body, as a browser does (used by the local push service)."""
    if len(body) < HEADER_BYTES + TAG_BYTES + 1:
        raise DecryptionError("body shorter than one aes128gcm header and record")
    salt, (record_size, key_id_len) = body[:16], struct.unpack("!IB", body[16:21])
    if key_id_len != 65 or record_size < 18:
        raise DecryptionError("unexpected aes128gcm header")
    as_public = body[21:86]
    try:
        as_key = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, as_public)
    except ValueError as exc:
        raise DecryptionError("sender key is not a P-256 point") from exc
    ua_public = ua_private.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    ecdh_secret = ua_private.exchange(ec.ECDH(), as_key)
    cek, nonce = _derive(auth_secret, ecdh_secret, ua_public, as_public, salt)
    record = body[86:]
    if len(record) > record_size:
        raise DecryptionError("more than one record is not supported")
    try:
        padded = AESGCM(cek).decrypt(nonce, record, None)
    except Exception as exc:  # cryptography raises InvalidTag
        raise DecryptionError("authentication tag does not verify") from exc
    stripped = padded.rstrip(b"\x00")
    if not stripped.endswith(b"\x02"):
        raise DecryptionError("last record must end with the 0x02 delimiter")
    return stripped[:-1]
