"""The bench's throwaway CA and 127.0.0.1 / ::1 / localhost certificate: the local push service's
(pushgate.testing.tls), written into the bench's output folder at start.

Clients trust `ca.pem` (aiohttp and the gateway through `SSL_CERT_FILE`, requests through
`Session.verify`, Node through `NODE_EXTRA_CA_CERTS`), so every row verifies TLS as it would
against a real push service; nginx gets `server.pem` (the leaf, then the CA) and `server.key`.
"""

from __future__ import annotations

from pushgate.testing.tls import TlsFiles
from pushgate.testing.tls import make_loopback_tls as make_tls

__all__ = ["TlsFiles", "make_tls"]
