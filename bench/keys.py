"""Subscriber key pairs: N P-256 keys and 16-byte auth secrets, made once and cached on disk.

Every row of one run uses the same subscribers. The file `out/keys-N.bin` holds fixed-size
records (private scalar, uncompressed public point, auth secret) so a later run skips the
~45 µs per key that generating costs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pushgate.webpush.b64 import b64url_encode

PRIVATE_BYTES = 32
PUBLIC_BYTES = 65
AUTH_BYTES = 16
RECORD_BYTES = PRIVATE_BYTES + PUBLIC_BYTES + AUTH_BYTES


@dataclass(frozen=True)
class KeySet:
    """N subscribers' keys as one packed byte string (1,000,000 of them take 113 MB)."""

    packed: bytes

    def __len__(self) -> int:
        return len(self.packed) // RECORD_BYTES

    def _record(self, index: int) -> bytes:
        start = index * RECORD_BYTES
        return self.packed[start : start + RECORD_BYTES]

    def public_b64(self, index: int) -> tuple[str, str]:
        """The subscription's `p256dh` and `auth`, base64url as browsers send them."""
        rec = self._record(index)
        public = rec[PRIVATE_BYTES : PRIVATE_BYTES + PUBLIC_BYTES]
        return b64url_encode(public), b64url_encode(rec[PRIVATE_BYTES + PUBLIC_BYTES :])

    def private_key(self, index: int) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
        """What the simulated browser holds: its private key and the auth secret."""
        rec = self._record(index)
        scalar = int.from_bytes(rec[:PRIVATE_BYTES], "big")
        auth = rec[PRIVATE_BYTES + PUBLIC_BYTES :]
        return ec.derive_private_key(scalar, ec.SECP256R1()), auth


def one_record() -> bytes:
    """One subscriber: private scalar, public point, auth secret."""
    key = ec.generate_private_key(ec.SECP256R1())
    scalar = key.private_numbers().private_value.to_bytes(PRIVATE_BYTES, "big")
    public = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return scalar + public + os.urandom(AUTH_BYTES)


def load_or_make(count: int, out_dir: Path) -> KeySet:
    """Keys for `count` subscribers; a cached file with at least that many is reused."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(out_dir.glob("keys-*.bin")):
        if path.stat().st_size >= count * RECORD_BYTES:
            with path.open("rb") as fh:
                return KeySet(fh.read(count * RECORD_BYTES))
    packed = b"".join(one_record() for _ in range(count))
    tmp = out_dir / f"keys-{count}.bin.tmp"
    tmp.write_bytes(packed)
    tmp.replace(out_dir / f"keys-{count}.bin")
    return KeySet(packed)


def sample_indices(count: int, samples: int) -> list[int]:
    """Evenly spread subscriber indices whose bodies the sample sink keeps."""
    step = max(1, count // samples)
    return list(range(step // 2, count, step))[:samples]


def write_subscriptions(
    keys: KeySet, count: int, endpoint_of: Callable[[int], str], path: Path
) -> Path:
    """Write the first `count` subscriptions as JSON lines, the file every peer reads."""
    with path.open("w") as fh:
        for line in _subscription_lines(keys, count, endpoint_of):
            fh.write(line)
    return path


def _subscription_lines(
    keys: KeySet, count: int, endpoint_of: Callable[[int], str]
) -> Iterator[str]:
    for i in range(count):
        p256dh, auth = keys.public_b64(i)
        sub = {"endpoint": endpoint_of(i), "keys": {"p256dh": p256dh, "auth": auth}}
        yield json.dumps(sub, separators=(",", ":")) + "\n"
