"""The feed fetcher and parser on their own (issue #11): the address check, limits, and what
an entry becomes. Only loopback is contacted; refused addresses are refused before any
connection."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from pushgate.automation.feed_fetch import FeedFetchError, fetch_feed, is_public
from pushgate.automation.feed_items import FeedParseError, parse_feed, plain_text
from tests.automation.feed_server import feed_server
from tests.automation.feeds import atom, rss


@given(st.ip_addresses(v=4))
def test_an_ipv4_address_is_public_exactly_when_the_ipaddress_module_says_global(
    address: ipaddress.IPv4Address,
) -> None:
    assert is_public(address) == (address.is_global and not address.is_multicast)


@given(st.ip_addresses(v=4))
def test_ipv6_forms_of_an_ipv4_address_are_judged_by_it(address: ipaddress.IPv4Address) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    nat64 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(address))
    assert is_public(mapped) == is_public(address) == is_public(nat64)


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "100.64.0.1", "::1", "fd00::1",
                "fe80::1", "0.0.0.0", "::", "224.0.0.1", "2002:7f00:1::"],
)  # fmt: skip
def test_special_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


async def test_size_limit_timeout_and_http_errors_are_reasons() -> None:
    async with feed_server() as server:
        server.files["/big.xml"] = b"x" * 5000
        allowed = (server.host,)
        with pytest.raises(FeedFetchError, match="5000 bytes"):
            await fetch_feed(
                server.url("/big.xml"), etag=None, last_modified=None, allowed_hosts=allowed,
                max_bytes=1000,
            )  # fmt: skip
        with pytest.raises(FeedFetchError, match="HTTP 404"):
            await fetch_feed(
                server.url("/none"), etag=None, last_modified=None, allowed_hosts=allowed
            )
        for n in range(7):
            server.redirects[f"/r{n}"] = f"/r{n + 1}"
        with pytest.raises(FeedFetchError, match="redirects"):
            await fetch_feed(
                server.url("/r0"), etag=None, last_modified=None, allowed_hosts=allowed
            )


async def test_a_server_that_stalls_times_out() -> None:
    async def stall(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response()

    app = web.Application()
    app.router.add_get("/", stall)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        with pytest.raises(FeedFetchError, match="within 0.5 s"):
            await fetch_feed(
                f"http://127.0.0.1:{port}/", etag=None, last_modified=None,
                allowed_hosts=(f"127.0.0.1:{port}",), timeout=0.5,
            )  # fmt: skip
    finally:
        await runner.cleanup()


async def test_loopback_is_refused_before_connecting() -> None:
    async with feed_server() as server:
        server.files["/a.xml"] = rss([])
        with pytest.raises(FeedFetchError, match="non-public"):
            await fetch_feed(server.url("/a.xml"), etag=None, last_modified=None, allowed_hosts=())
        assert server.requests == []


def test_entries_become_items_with_identity_plain_text_and_image() -> None:
    items = parse_feed(
        rss([
            {"guid": "g1", "title": "A &amp; B", "link": "https://x.example/1",
             "summary": "<p>Hello <script>alert(1)</script><b>world</b></p>",
             "image": "https://x.example/1.jpg"},
            {"title": "No guid", "link": "https://x.example/2"},
        ])
    )  # fmt: skip
    assert [i.identity for i in items] == ["g1", "https://x.example/2"]
    assert items[0].summary == "Hello world"
    assert items[0].image == "https://x.example/1.jpg"
    assert items[0].published == "2026-12-01T09:00:00Z"
    entries = parse_feed(atom([{"guid": "urn:1", "title": "T", "link": "https://x.example/a"}]))
    assert (entries[0].identity, entries[0].link) == ("urn:1", "https://x.example/a")


def test_a_body_that_is_no_feed_is_a_parse_error() -> None:
    with pytest.raises(FeedParseError):
        parse_feed(b"<html><body>not a feed</body></html")
    assert plain_text("a<br>b &amp;  c") == "a b & c"
