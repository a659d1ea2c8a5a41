"""Warm OpenSSL's TLS up at process start: its first handshake in a process costs ~7 ms of
one-time set-up, which the first message's connection would otherwise pay."""

from __future__ import annotations

import datetime
import ssl
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def warm_up_tls() -> None:
    """One TLS handshake in memory, with a throwaway certificate: OpenSSL's one-time set-up
    (a few ms on first use in a process) is then not paid by the first message's connection."""
    host = "warm-up.invalid"
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(minutes=5))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.NamedTemporaryFile(suffix=".pem") as chain:  # the ssl module reads files
        chain.write(key_pem + cert_pem)
        chain.flush()
        server.load_cert_chain(chain.name)
    client = ssl.create_default_context(cadata=cert_pem.decode())
    _handshake_in_memory(client, server, host)


def _handshake_in_memory(client: ssl.SSLContext, server: ssl.SSLContext, host: str) -> None:
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    ends = [
        (client.wrap_bio(client_in, client_out, server_hostname=host), client_out, server_in),
        (server.wrap_bio(server_in, server_out, server_side=True), server_out, client_in),
    ]
    finished = [False, False]
    for _ in range(8):  # TLS 1.3 needs two round trips; the bound only guards against a bug
        for i, (end, outgoing, peer_incoming) in enumerate(ends):
            if not finished[i]:
                try:
                    end.do_handshake()
                    finished[i] = True
                except ssl.SSLWantReadError:
                    pass
            peer_incoming.write(outgoing.read())
        if all(finished):
            return
    raise ssl.SSLError("the in-memory TLS warm-up did not finish")
