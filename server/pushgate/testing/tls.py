"""A throwaway CA and a certificate for 127.0.0.1, ::1 and localhost: the local push service's
TLS side. The gateway trusts the CA through `SSL_CERT_FILE` (its client's default context reads
it), so it verifies the certificate as it would a real push service's."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=2)
CLOCK_SKEW = dt.timedelta(minutes=5)  # valid a little before now, for a clock a bit behind


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path  # what a client trusts (SSL_CERT_FILE)
    server_cert: Path  # the leaf, then the CA
    server_key: Path

    def server_context(self, protocols: Sequence[str]) -> ssl.SSLContext:
        """A server context offering `protocols` by ALPN, most preferred first."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_cert, self.server_key)
        context.set_alpn_protocols(list(protocols))
        return context


def make_loopback_tls(folder: Path) -> TlsFiles:
    """Write `ca.pem`, `server.pem` and `server.key` into `folder`."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _sign(
        x509.CertificateBuilder()
        .subject_name(_name("pushgate local push service CA"))
        .issuer_name(_name("pushgate local push service CA"))
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
    names = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    leaf = _sign(
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        ),
        ca_key,
    )
    return _write(folder, ca, leaf, key)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _sign(builder: x509.CertificateBuilder, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = builder.not_valid_before(now - CLOCK_SKEW).not_valid_after(now + VALIDITY)
    return builder.serial_number(x509.random_serial_number()).sign(key, hashes.SHA256())


def _write(
    folder: Path, ca: x509.Certificate, leaf: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> TlsFiles:
    pem = serialization.Encoding.PEM
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    files.ca_cert.write_bytes(ca.public_bytes(pem))
    files.server_cert.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    private = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    files.server_key.write_bytes(private)
    files.server_key.chmod(0o600)
    return files
