"""Is this the uncompressed encoding of a point on P-256? (SEC 1 §2.3.4, FIPS 186-4 D.1.2.3)

Subscribe checks every subscriber's key; building a key object in OpenSSL for it cost ~20 µs,
a tenth of a subscribe's CPU (issue #14 part 4). The check itself is the curve's equation,
y² = x³ - 3x + b (mod p), on two coordinates below p: P-256's cofactor is 1, so every point
that satisfies it (the point at infinity has no uncompressed form) is in the group an ECDH
agreement needs. tests/webpush/test_p256.py holds it to OpenSSL's answer.
"""

from __future__ import annotations

P = 2**256 - 2**224 + 2**192 + 2**96 - 1
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
UNCOMPRESSED_BYTES = 65  # 0x04, then x and y, 32 bytes each, big-endian


def is_uncompressed_point(raw: bytes) -> bool:
    if len(raw) != UNCOMPRESSED_BYTES or raw[0] != 4:
        return False
    x = int.from_bytes(raw[1:33], "big")
    y = int.from_bytes(raw[33:], "big")
    if x >= P or y >= P:
        return False
    return (y * y - (x * x * x - 3 * x + B)) % P == 0
