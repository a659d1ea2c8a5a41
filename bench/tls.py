"""A throwaway CA and a server certificate for 127.0.0.1, made at bench start.

Clients trust `ca.pem` (aiohttp and the gateway through `SSL_CERT_FILE`, requests through
`Session.verify`, Node through `NODE_EXTRA_CA_CERTS`), so every row verifies TLS as it would
against a real push service.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=2)


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    server_cert: Path  # leaf then CA, as nginx wants the chain
    server_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _sign(builder: x509.CertificateBuilder, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = builder.not_valid_before(now - dt.timedelta(minutes=5))
    builder = builder.not_valid_after(now + VALIDITY).serial_number(x509.random_serial_number())
    return builder.sign(key, hashes.SHA256())


def make_tls(out_dir: Path) -> TlsFiles:
    """Write a CA and a 127.0.0.1 / ::1 / localhost certificate signed by it."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _sign(
        x509.CertificateBuilder()
        .subject_name(_name("pushgate bench CA"))
        .issuer_name(_name("pushgate bench CA"))
        .public_key(ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False),
        ca_key,
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    leaf = _sign(
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        ),
        ca_key,
    )
    return _write(out_dir, ca, leaf, key)


def _write(
    out_dir: Path, ca: x509.Certificate, leaf: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> TlsFiles:
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    files = TlsFiles(out_dir / "ca.pem", out_dir / "server.pem", out_dir / "server.key")
    files.ca_cert.write_bytes(ca.public_bytes(pem))
    files.server_cert.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    files.server_key.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    files.server_key.chmod(0o600)
    return files
