"""The checks autopush makes on `POST /push/{id}` (RFC 8030 headers, RFC 8292 VAPID)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from pushgate.testing.replies import PushRejected
from pushgate.webpush.b64 import b64url_decode

MAX_BODY_BYTES = 4096  # RFC 8030 §7.2; autopush refuses more with 413 errno 104
MAX_EXP_AHEAD_SECONDS = 24 * 3600  # RFC 8292 §2: exp no more than 24 h ahead
MAX_TOPIC_CHARS = 32  # RFC 8030 §5.4
URGENCIES = frozenset({"very-low", "low", "normal", "high"})  # RFC 8030 §5.3
RECORDED_HEADERS = ("TTL", "Urgency", "Topic", "Content-Encoding", "Authorization")
_TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")
_DIGITS = re.compile(r"[0-9]+")
_SIGNATURE_CACHE_SIZE = 4096

ERRNO_INVALID_CRYPTO = 110
ERRNO_MISSING_HEADER = 111
ERRNO_INVALID_TTL = 112
ERRNO_INVALID_TOPIC = 113
ERRNO_INVALID_URGENCY = 114
ERRNO_TOO_LARGE = 104
ERRNO_UNAUTHORIZED = 109


@dataclass(frozen=True)
class VapidIdentity:
    """The verified claims of a push's JWT and the public key `k` that signed it."""

    claims: dict[str, Any]
    public_key: str
    raw_public_key: bytes


def recorded_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The Web Push headers of a request, under their canonical names."""
    return {name: headers[name] for name in RECORDED_HEADERS if name in headers}


def check_headers(headers: Mapping[str, str], body: bytes) -> int:
    """Check size, TTL, Content-Encoding, Topic and Urgency; return the TTL in seconds."""
    if len(body) > MAX_BODY_BYTES:
        raise PushRejected(413, ERRNO_TOO_LARGE, f"body is {len(body)} bytes, at most 4096")
    ttl = _ttl(headers.get("TTL"))
    encoding = headers.get("Content-Encoding")
    # RFC 8030 §5 allows a push with no payload; a payload must be aes128gcm (RFC 8291 §4).
    if (body or encoding is not None) and encoding != "aes128gcm":
        raise PushRejected(400, ERRNO_INVALID_CRYPTO, f"unknown Content-Encoding {encoding!r}")
    topic = headers.get("Topic")
    if topic is not None and not _TOPIC.fullmatch(topic):
        message = f"Topic must be 1-{MAX_TOPIC_CHARS} base64url characters"
        raise PushRejected(400, ERRNO_INVALID_TOPIC, message)
    urgency = headers.get("Urgency")
    if urgency is not None and urgency not in URGENCIES:
        raise PushRejected(400, ERRNO_INVALID_URGENCY, f"unknown Urgency {urgency!r}")
    return ttl


def _ttl(value: str | None) -> int:
    if value is None:
        raise PushRejected(400, ERRNO_MISSING_HEADER, "Missing TTL header")
    if not _DIGITS.fullmatch(value.strip()):
        raise PushRejected(400, ERRNO_INVALID_TTL, f"TTL must be an integer >= 0, not {value!r}")
    return int(value)


def parse_authorization(value: str | None) -> tuple[str, str]:
    """Split `vapid t=<JWT>, k=<key>` (RFC 8292 §3) into token and key."""
    if not value:
        raise _unauthorized("missing Authorization header")
    scheme, _, params = value.strip().partition(" ")
    if scheme.lower() != "vapid":
        raise _unauthorized(f"Authorization scheme must be vapid, not {scheme!r}")
    parts: dict[str, str] = {}
    for item in params.split(","):
        name, _, param = item.strip().partition("=")
        parts[name.strip().lower()] = param.strip()
    if not parts.get("t") or not parts.get("k"):
        raise _unauthorized("Authorization needs both t= and k=")
    return parts["t"], parts["k"]


class VapidVerifier:
    """Verifies VAPID JWTs for one audience; a signature once verified is cached, as the
    gateway reuses one token for many pushes, but the claims are checked on every push."""

    def __init__(self, audience: str, *, clock: Callable[[], float] = time.time) -> None:
        self.audience = audience
        self._clock = clock
        self._verified: dict[tuple[str, str], tuple[dict[str, Any], bytes]] = {}

    def verify(self, authorization: str | None) -> VapidIdentity:
        token, key = parse_authorization(authorization)
        cached = self._verified.get((token, key))
        if cached is None:
            cached = _verify_signature(token, key)
            if len(self._verified) >= _SIGNATURE_CACHE_SIZE:
                self._verified.clear()
            self._verified[(token, key)] = cached
        claims, raw_key = cached
        self._check_claims(claims)
        return VapidIdentity(claims=dict(claims), public_key=key, raw_public_key=raw_key)

    def _check_claims(self, claims: dict[str, Any]) -> None:
        if claims.get("aud") != self.audience:
            raise _unauthorized(f"aud {claims.get('aud')!r} is not {self.audience!r}")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise _unauthorized("exp claim missing or not a number")
        now = self._clock()
        if exp <= now:
            raise _unauthorized("token has expired")
        if exp > now + MAX_EXP_AHEAD_SECONDS:
            raise _unauthorized("exp is more than 24 hours in the future")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub.startswith(("mailto:", "https:")):
            raise _unauthorized("sub must be a mailto: or https: URL")


def _verify_signature(token: str, key: str) -> tuple[dict[str, Any], bytes]:
    """Check an ES256 JWT (RFC 7515, RFC 7518 §3.4) against the raw P-256 key `k`."""
    try:
        raw_key = b64url_decode(key)
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw_key)
        header_b64, claims_b64, signature_b64 = token.split(".")
        header = json.loads(b64url_decode(header_b64))
        claims = json.loads(b64url_decode(claims_b64))
        signature = b64url_decode(signature_b64)
    except (ValueError, TypeError) as exc:
        raise _unauthorized("malformed JWT or key") from exc
    if not isinstance(header, dict) or header.get("alg") != "ES256":
        raise _unauthorized("JWT alg must be ES256")
    if not isinstance(claims, dict) or len(signature) != 64:
        raise _unauthorized("malformed JWT")
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    signed = f"{header_b64}.{claims_b64}".encode("ascii")
    try:
        public.verify(encode_dss_signature(r, s), signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise _unauthorized("JWT signature does not verify with k") from exc
    return claims, raw_key


def _unauthorized(message: str) -> PushRejected:
    return PushRejected(401, ERRNO_UNAUTHORIZED, message)
