"""The machine's speed at a moment: CPU time of one fixed encryption, in this process.

On a shared 2-core VM the same work costs up to ~1.8x more CPU at one moment than a few
minutes later. A broadcast's CPU per message is compared across audience sizes (broadcasts
minutes apart), so each broadcast is bracketed by this probe, and the comparison is also shown
at equal machine speed.
"""

from __future__ import annotations

import os
import time

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pushgate.webpush.b64 import b64url_encode
from pushgate.webpush.encryption import encrypt

PROBE_MESSAGES = 1500  # ~0.2-0.4 s
PLAINTEXT = b"x" * 200


def encryption_us() -> float:
    """CPU microseconds per encryption of a 200-byte message, measured now."""
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    p256dh = b64url_encode(key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))
    auth = b64url_encode(os.urandom(16))
    start = time.process_time()
    for _ in range(PROBE_MESSAGES):
        encrypt(PLAINTEXT, p256dh, auth)
    return (time.process_time() - start) / PROBE_MESSAGES * 1e6
