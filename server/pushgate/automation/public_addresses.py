"""Where a feed may be fetched from: the public internet only (the feed poller's SSRF guard).

A feed URL is given by a site's back end and fetched by the gateway, so it must not reach what
only the gateway can reach: loopback, private networks, link-local (169.254.169.254, the cloud
metadata service), or any other special-purpose range. `PublicOnlyResolver` checks every
address a name resolves to and answers aiohttp with exactly those addresses, so the connection
goes to an address that was checked: a name cannot resolve to something else between the check
and the connect (DNS rebinding). An exact `host:port` in the allowed set skips the check (tests,
an intranet feed).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable

from aiohttp.abc import AbstractResolver, ResolveResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")  # RFC 6598, carrier-grade NAT
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 §2.1: embeds IPv4
NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: a network's own NAT64


class AddressRefused(Exception):
    """A feed's host is not on the public internet, or does not resolve; one line, log-safe."""


def is_public_address(address: IPAddress) -> bool:
    """True only for an address on the public internet: not loopback, private, link-local,
    multicast, reserved, unspecified, shared (100.64/10), IPv6 unique-local or site-local. An
    IPv6 address that embeds an IPv4 one (IPv4-mapped, 6to4, NAT64) is judged by that one;
    Teredo and local-use NAT64 relay to addresses one cannot see, and are refused."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public_address(embedded)
        if address.teredo is not None or address in NAT64_LOCAL_USE or address.is_site_local:
            return False
    elif address in SHARED_ADDRESS_SPACE:
        return False
    special = (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )
    return address.is_global and not special


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d, RFC 4291 §2.5.5.2
        return address.ipv4_mapped
    if address.sixtofour is not None:  # 2002:aabb:ccdd::/48, RFC 3056
        return address.sixtofour
    if address in NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def host_port(host: str, port: int) -> str:
    """`host:port` as PUSHGATE_ALLOWED_FEED_HOSTS spells it: lower case, no trailing dot,
    an IPv6 address in brackets."""
    host = host.lower().rstrip(".").strip("[]")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def allowed_set(entries: Iterable[str]) -> frozenset[str]:
    """The allowed `host:port` entries, spelled as `host_port` spells them."""
    allowed = set()
    for entry in entries:
        host, sep, port = entry.strip().rpartition(":")
        if sep and port.isdigit():
            allowed.add(host_port(host, int(port)))
    return frozenset(allowed)


def checked_literal(host: str, port: int, allowed: frozenset[str]) -> None:
    """AddressRefused if `host` is an IP address (aiohttp connects to those without asking
    the resolver) that is not public and not allowed; names are left to the resolver."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return
    if host_port(host, port) not in allowed and not is_public_address(address):
        raise AddressRefused(_refusal(str(address), str(address)))


async def resolve_public(
    host: str, port: int, allowed: frozenset[str], family: int = socket.AF_UNSPEC
) -> list[ResolveResult]:
    """Every address `host` resolves to; AddressRefused when any of them is not public (unless
    `host:port` is allowed) or when the name does not resolve."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, family=family, type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError):
        raise AddressRefused(f"the name {host} does not resolve") from None
    results = [_result(host, port, info[0], str(info[4][0])) for info in infos]
    if host_port(host, port) not in allowed:
        for result in results:
            if not is_public_address(ipaddress.ip_address(result["host"])):
                raise AddressRefused(_refusal(host, result["host"]))
    if not results:
        raise AddressRefused(f"the name {host} does not resolve")
    return results


def _result(host: str, port: int, family: int, address: str) -> ResolveResult:
    return ResolveResult(
        hostname=host, host=address, port=port, family=family, proto=0,
        flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
    )  # fmt: skip


def _refusal(host: str, address: str) -> str:
    at = "" if host == address else f" is at {address}, which"
    return (
        f"{host}{at} is a non-public address (loopback, private, link-local or otherwise "
        "special); feeds are fetched from the public internet only "
        "(PUSHGATE_ALLOWED_FEED_HOSTS lists exceptions)"
    )


class PublicOnlyResolver(AbstractResolver):
    """aiohttp's resolver for feed fetches: answers only with addresses `resolve_public`
    checked, which are the addresses aiohttp then connects to."""

    def __init__(self, allowed: frozenset[str]) -> None:
        self._allowed = allowed

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return await resolve_public(host, port, self._allowed, family)

    async def close(self) -> None:
        return None
