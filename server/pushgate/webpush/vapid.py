"""VAPID (RFC 8292): key pairs and an Authorization header cached per push-service origin.

Signing costs ~50-90 µs, so the header is signed once per origin and reused until it nears
expiry, never per message. Each signature gets its own fresh claims dict (pywebpush writes
`aud`/`exp` into the caller's dict, which leaks one origin's audience into the next).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_vapid import Vapid02

from pushgate.webpush.b64 import b64url_decode, b64url_encode

TOKEN_LIFETIME_SECONDS = 12 * 3600  # RFC 8292 §2: exp at most 24 h ahead; we stay well inside.
RENEW_BEFORE_SECONDS = 3600  # sign a new token an hour before the old one expires
_JWT_HEADER = b64url_encode(b'{"typ":"JWT","alg":"ES256"}')


@dataclass(frozen=True)
class VapidKeyPair:
    """A site's VAPID key pair. `private_key` is base64url of the 32-byte scalar: never log it."""

    private_key: str
    public_key: str  # base64url (no padding) of the 65-byte uncompressed point

    def __repr__(self) -> str:
        return f"VapidKeyPair(public_key={self.public_key!r}, private_key='**********')"


def generate_key_pair() -> VapidKeyPair:
    vapid = Vapid02()
    vapid.generate_keys()
    scalar = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    return VapidKeyPair(private_key=b64url_encode(scalar), public_key=_public_b64(vapid))


def _public_b64(vapid: Vapid02) -> str:
    raw = vapid.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return b64url_encode(raw)


def origin_of(endpoint: str) -> str:
    """The JWT audience: scheme, host and port of the push service (RFC 8292 §2)."""
    parts = urlsplit(endpoint)
    default_port = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default_port else "")


class VapidSigner:
    """Builds `Authorization: vapid t=…, k=…` headers for one key pair, cached per audience."""

    def __init__(
        self,
        keys: VapidKeyPair,
        subject: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        scalar = int.from_bytes(b64url_decode(keys.private_key), "big")
        self._private_key = ec.derive_private_key(scalar, ec.SECP256R1())
        self._subject = subject
        self._clock = clock
        self._cache: dict[str, tuple[str, float]] = {}
        self._audiences: dict[str, str] = {}
        self.public_key = keys.public_key

    def authorization(self, endpoint: str) -> str:
        # Endpoints of one push service share their scheme://host[:port] prefix, so the parsed
        # audience is looked up by that prefix (urlsplit per message was a quarter of the
        # main process's CPU in a broadcast).
        prefix = endpoint[: endpoint.find("/", endpoint.find("//") + 2)]
        audience = self._audiences.get(prefix)
        if audience is None:
            audience = self._audiences[prefix] = origin_of(endpoint)
        now = self._clock()
        cached = self._cache.get(audience)
        if cached and cached[1] - now > RENEW_BEFORE_SECONDS:
            return cached[0]
        expires = int(now) + TOKEN_LIFETIME_SECONDS
        claims = {"aud": audience, "exp": expires, "sub": self._subject}
        header = f"vapid t={self._sign(claims)},k={self.public_key}"
        self._cache[audience] = (header, expires)
        return header

    def _sign(self, claims: dict[str, object]) -> str:
        """An ES256 JWT (RFC 7515/7518 §3.4: the signature is r ‖ s, 32 bytes each)."""
        signing_input = f"{_JWT_HEADER}.{b64url_encode(json.dumps(claims).encode())}"
        der = self._private_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{b64url_encode(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
