"""The client address a request is rate-limited by: the socket peer, or behind a trusted proxy the
address that proxy saw, from X-Forwarded-For."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import Scope

from pushgate.settings import SettingsError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPV6_CLIENT_PREFIX = 64  # one host (one home, one phone) usually holds a whole /64
UNKNOWN_PEER = "unknown"  # no socket address (a Unix socket): all such requests share a bucket


def parse_trusted_proxies(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Addresses or CIDR networks; a plain address is a /32 (IPv4) or /128 (IPv6)."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise SettingsError(
                f"PUSHGATE_TRUSTED_PROXIES: {entry!r} is not an address or network ({exc})"
            ) from exc
    return tuple(networks)


class ClientAddresses:
    """Finds the client address of a request; X-Forwarded-For counts only from trusted proxies."""

    def __init__(self, trusted_proxies: Iterable[str]) -> None:
        self._trusted = parse_trusted_proxies(trusted_proxies)

    def key(self, scope: Scope) -> str:
        """The client's address as a rate-limit key; IPv6 clients by their /64 network."""
        peer = scope.get("client")
        if not peer or not peer[0]:
            return UNKNOWN_PEER
        address = self.address(scope)
        if address is None:
            return str(peer[0])  # not an IP address (a test client's name): itself
        return _bucket(address)

    def address(self, scope: Scope) -> IPAddress | None:
        """The client's IP address: the peer's, or behind a trusted proxy the one it saw."""
        peer = scope.get("client")
        address = _parse(peer[0]) if peer and peer[0] else None
        if address is not None and self._is_trusted(address):
            address = self._forwarded_for(Headers(scope=scope)) or address
        return address

    def _is_trusted(self, address: IPAddress) -> bool:
        return any(address in network for network in self._trusted)

    def _forwarded_for(self, headers: Headers) -> IPAddress | None:
        # Each proxy appends the address it saw, so entries left of the nearest untrusted one may
        # be whatever the client wrote: read right to left and take the first untrusted entry.
        entries = ",".join(headers.getlist("x-forwarded-for")).split(",")
        for entry in reversed(entries):
            if not entry.strip():
                continue
            address = _parse(entry.strip())
            if address is None:
                return None  # a proxy that writes garbage is not believed; key on the proxy
            if not self._is_trusted(address):
                return address
        return None


def _parse(text: str) -> IPAddress | None:
    """An address as socket peers and proxies write it: bare, `[v6]:port` or `v4:port`."""
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    return address


def _bucket(address: IPAddress) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False))
    return str(address)
