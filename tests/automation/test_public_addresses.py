"""Which addresses a feed may be fetched from, checked against the ipaddress module's own
properties over random addresses; and the resolver that pins a fetch to checked addresses.
Nothing here opens a connection: the only name resolved is localhost."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushgate.automation.public_addresses import (
    NAT64_LOCAL_USE,
    NAT64_WELL_KNOWN,
    SHARED_ADDRESS_SPACE,
    AddressRefused,
    PublicOnlyResolver,
    allowed_set,
    checked_literal,
    host_port,
    is_public_address,
    resolve_public,
)

IPv4 = ipaddress.IPv4Address
IPv6 = ipaddress.IPv6Address
SIXTOFOUR = ipaddress.IPv6Network("2002::/16")
TEREDO = ipaddress.IPv6Network("2001::/32")


def special(address: IPv4 | IPv6) -> bool:
    """What the ipaddress module says makes an address unfit, plus 100.64/10 (RFC 6598) and
    site-local, which it counts as global."""
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
        or (isinstance(address, IPv4) and address in SHARED_ADDRESS_SPACE)
        or (isinstance(address, IPv6) and address.is_site_local)
    )


@given(st.ip_addresses(v=4))
def test_an_ipv4_address_is_public_exactly_when_no_ipaddress_property_says_special(
    address: IPv4,
) -> None:
    assert is_public_address(address) == (not special(address))


@given(st.ip_addresses(v=6))
def test_an_ipv6_address_is_public_exactly_when_no_ipaddress_property_says_special(
    address: IPv6,
) -> None:
    embedded = address.ipv4_mapped or address.sixtofour
    if address in NAT64_WELL_KNOWN:
        embedded = IPv4(int(address) & 0xFFFF_FFFF)
    if embedded is not None:
        assert is_public_address(address) == (not special(embedded))
    elif address in TEREDO or address in NAT64_LOCAL_USE:
        assert not is_public_address(address)
    else:
        assert is_public_address(address) == (not special(address))


@given(st.ip_addresses(v=4), st.integers(0, 2**80 - 1))
def test_ipv6_forms_of_an_ipv4_address_are_judged_by_it(address: IPv4, low_bits: int) -> None:
    mapped = IPv6(f"::ffff:{address}")
    sixtofour = IPv6((0x2002 << 112) | (int(address) << 80) | low_bits)
    nat64 = IPv6(int(NAT64_WELL_KNOWN.network_address) | int(address))
    verdict = is_public_address(address)
    assert is_public_address(mapped) == is_public_address(sixtofour) == verdict
    assert is_public_address(nat64) == verdict


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.255.0.9", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
        "100.64.0.1", "100.127.255.254", "0.0.0.0", "0.1.2.3", "224.0.0.1", "239.255.255.250",
        "240.0.0.1", "255.255.255.255", "192.0.2.1", "198.18.0.1", "198.51.100.7",
        "203.0.113.9", "::1", "::", "fd00::1", "fc00::1", "fe80::1", "fe80::1%1", "fec0::1",
        "ff02::1", "2001:db8::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1",
        "2002:7f00:1::", "2002:a9fe:a9fe::1", "64:ff9b::a00:1", "64:ff9b::7f00:1",
        "64:ff9b:1::808:808", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "100::1",
    ],
)  # fmt: skip
def test_special_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e",
     "::ffff:8.8.8.8", "2002:808:808::1", "64:ff9b::808:808"],
)  # fmt: skip
def test_public_addresses_are_public(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("host", "port", "spelled"),
    [("Example.COM.", 80, "example.com:80"), ("::1", 8080, "[::1]:8080"),
     ("[::1]", 443, "[::1]:443"), ("127.0.0.1", 9, "127.0.0.1:9")],
)  # fmt: skip
def test_host_port_is_spelled_as_the_setting_spells_it(host: str, port: int, spelled: str) -> None:
    assert host_port(host, port) == spelled


def test_allowed_entries_need_a_port_and_are_normalised() -> None:
    entries = [" 127.0.0.1:8080 ", "[::1]:9000", "Feeds.Example:443", "noport", "bad:port", ""]
    assert allowed_set(entries) == {"127.0.0.1:8080", "[::1]:9000", "feeds.example:443"}


def test_a_literal_address_is_refused_unless_its_exact_host_port_is_allowed() -> None:
    with pytest.raises(AddressRefused, match="127.0.0.1 is a non-public address"):
        checked_literal("127.0.0.1", 8080, frozenset({"127.0.0.1:8081"}))
    checked_literal("127.0.0.1", 8080, frozenset({"127.0.0.1:8080"}))
    checked_literal("feeds.example", 80, frozenset())  # names are the resolver's to check
    checked_literal("8.8.8.8", 80, frozenset())


async def test_a_name_resolving_to_loopback_is_refused_naming_the_address() -> None:
    with pytest.raises(AddressRefused, match=r"localhost is at (127\.0\.0\.1|::1), which"):
        await resolve_public("localhost", 8080, frozenset())


async def test_the_resolver_answers_with_the_checked_addresses_of_an_allowed_name() -> None:
    resolver = PublicOnlyResolver(frozenset({"localhost:8080"}))
    results = await resolver.resolve("localhost", 8080)
    assert results
    assert all(ipaddress.ip_address(r["host"]).is_loopback for r in results)
    assert all(r["port"] == 8080 and r["hostname"] == "localhost" for r in results)
    with pytest.raises(AddressRefused):
        await resolver.resolve("localhost", 8081)  # another port is another entry
