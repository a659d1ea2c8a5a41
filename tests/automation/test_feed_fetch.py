"""The feed fetcher against a local feed server on 127.0.0.1: conditional GET, redirects, size
and time limits, and the refusals. Only loopback is ever contacted, and a refused address is
refused before any connection: the traces show no connection made and the servers no request.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from pushgate.automation.feed_fetch import (
    ACCEPT,
    MAX_REDIRECTS,
    USER_AGENT,
    FeedFetchError,
    check_feed_url,
    feed_session,
    fetch_feed,
)

FIXTURES = Path(__file__).parent / "fixtures"
LAST_MODIFIED = "Mon, 30 Nov 2026 18:05:00 GMT"
BIG = 50 * 1024 * 1024  # what the oversize routes would send: more than any socket buffer
CHUNK = b"x" * 65536


@dataclass
class FeedServer:
    """Serves the fixtures with an ETag and Last-Modified (304 to a matching conditional
    GET), and routes that redirect, stall, fail or send too much; records every request."""

    port: int = 0
    requests: list[web.Request] = field(default_factory=list)
    chunked_sent: int = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/feeds/{name}", self.feed)
        app.router.add_get("/hops/{n:\\d+}", self.hops)
        app.router.add_get("/redirect", self.redirect)
        app.router.add_get("/big-declared", self.big_declared)
        app.router.add_get("/big-chunked", self.big_chunked)
        app.router.add_get("/stall", self.stall)
        app.router.add_get("/stall-body", self.stall_body)
        app.router.add_get("/broken", self.broken)
        app.router.add_get("/no-location", self.no_location)
        app.middlewares.append(self.record)
        return app

    @web.middleware
    async def record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(request)
        response: web.StreamResponse = await handler(request)
        return response

    async def feed(self, request: web.Request) -> web.Response:
        path = FIXTURES / request.match_info["name"]
        if not path.is_file():
            raise web.HTTPNotFound()
        body = path.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        headers = {"ETag": etag, "Last-Modified": LAST_MODIFIED, "Set-Cookie": "session=s1"}
        if _not_modified(request, etag):
            return web.Response(status=304, headers={"ETag": etag})
        kind = "application/atom+xml" if request.match_info["name"].endswith(".atom") else None
        return web.Response(body=body, content_type=kind or "application/rss+xml", headers=headers)

    async def hops(self, request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        if n == 0:
            raise web.HTTPFound("../feeds/news.rss")  # relative, resolved against /hops/0
        raise web.HTTPMovedPermanently(f"{n - 1}")

    async def redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(request.query["to"])

    async def big_declared(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(BIG)})
        await response.prepare(request)
        await response.write(CHUNK)  # the client must not wait for the rest
        await asyncio.sleep(10)
        return response

    async def big_chunked(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        while self.chunked_sent < BIG:
            await response.write(CHUNK)
            self.chunked_sent += len(CHUNK)
        await response.write_eof()
        return response

    async def stall(self, request: web.Request) -> web.Response:
        await asyncio.sleep(10)
        return web.Response(text="too late")

    async def stall_body(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b"<?xml version='1.0'?><rss version='2.0'><channel>")
        await asyncio.sleep(10)
        return response

    async def broken(self, request: web.Request) -> web.Response:
        return web.Response(status=500, text="database away")

    async def no_location(self, request: web.Request) -> web.Response:
        return web.Response(status=302)


def _not_modified(request: web.Request, etag: str) -> bool:
    """RFC 9110 §13.1.2: If-None-Match decides when sent; else If-Modified-Since."""
    if "If-None-Match" in request.headers:
        return request.headers["If-None-Match"] == etag
    since = request.headers.get("If-Modified-Since")
    return since is not None and parsedate_to_datetime(since) >= parsedate_to_datetime(
        LAST_MODIFIED
    )


async def _serve() -> tuple[FeedServer, web.AppRunner]:
    server = FeedServer()
    runner = web.AppRunner(server.app(), shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.port = runner.addresses[0][1]
    return server, runner


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    feed_server, runner = await _serve()
    yield feed_server
    await runner.cleanup()


@pytest.fixture
async def other_server() -> AsyncIterator[FeedServer]:
    """A second loopback server, on a port that is never allowed."""
    feed_server, runner = await _serve()
    yield feed_server
    await runner.cleanup()


class Traced:
    """A feed session whose traces record requests started and connections made."""

    def __init__(self, allowed: frozenset[str]) -> None:
        self.requests: list[str] = []
        self.connections = 0
        trace = aiohttp.TraceConfig()
        trace.on_request_start.append(self._request)
        trace.on_connection_create_end.append(self._connected)
        self.session = feed_session(allowed, trace_configs=[trace])

    async def _request(self, _: Any, __: SimpleNamespace, params: Any) -> None:
        self.requests.append(str(params.url))

    async def _connected(self, _: Any, __: SimpleNamespace, ___: Any) -> None:
        self.connections += 1


@pytest.fixture
async def traced(server: FeedServer) -> AsyncIterator[Traced]:
    """A traced session that allows the feed server's exact host:port only."""
    watched = Traced(frozenset({server.host}))
    async with watched.session:
        yield watched


async def _fetch(url: str, traced: Traced, server: FeedServer, **options: Any) -> Any:
    return await fetch_feed(url, allowed_hosts=[server.host], session=traced.session, **options)


async def test_rss_is_fetched_with_its_validators_and_the_feed_headers(
    server: FeedServer, traced: Traced
) -> None:
    response = await _fetch(server.url("/feeds/news.rss"), traced, server)
    assert response.status == "ok"
    assert response.body == (FIXTURES / "news.rss").read_bytes()
    assert response.etag and response.etag.startswith('"')
    assert response.last_modified == LAST_MODIFIED
    assert response.final_url == server.url("/feeds/news.rss")
    sent = server.requests[0].headers
    assert sent["User-Agent"] == USER_AGENT and USER_AGENT.startswith("pushgate/")
    assert USER_AGENT.endswith("(+feed poller)")
    assert sent["Accept"] == ACCEPT and "application/atom+xml" in sent["Accept"]
    assert "If-None-Match" not in sent and "If-Modified-Since" not in sent


async def test_a_matching_etag_is_answered_304_and_reported_not_modified(
    server: FeedServer, traced: Traced
) -> None:
    first = await _fetch(server.url("/feeds/blog.atom"), traced, server)
    again = await _fetch(
        server.url("/feeds/blog.atom"), traced, server,
        etag=first.etag, last_modified=first.last_modified,
    )  # fmt: skip
    assert (again.status, again.body, again.etag) == ("not_modified", b"", first.etag)
    assert again.last_modified == LAST_MODIFIED  # the 304 had none: the one sent is kept
    assert server.requests[1].headers["If-None-Match"] == first.etag
    assert server.requests[1].headers["If-Modified-Since"] == LAST_MODIFIED


async def test_if_modified_since_alone_is_honoured(server: FeedServer, traced: Traced) -> None:
    later = format_datetime(parsedate_to_datetime(LAST_MODIFIED), usegmt=True)
    response = await _fetch(server.url("/feeds/news.rss"), traced, server, last_modified=later)
    assert response.status == "not_modified"
    changed = await _fetch(server.url("/feeds/news.rss"), traced, server, etag='"old"')
    assert changed.status == "ok"  # If-None-Match decides when both could


async def test_no_cookie_is_kept_between_fetches(server: FeedServer, traced: Traced) -> None:
    await _fetch(server.url("/feeds/news.rss"), traced, server)
    await _fetch(server.url("/feeds/news.rss"), traced, server)
    assert [r.headers.get("Cookie") for r in server.requests] == [None, None]


async def test_five_redirects_are_followed_relative_ones_resolved(
    server: FeedServer, traced: Traced
) -> None:
    response = await _fetch(server.url(f"/hops/{MAX_REDIRECTS - 1}"), traced, server)
    assert response.status == "ok"
    assert response.final_url == server.url("/feeds/news.rss")
    assert len(server.requests) == MAX_REDIRECTS + 1


async def test_a_sixth_redirect_is_refused(server: FeedServer, traced: Traced) -> None:
    with pytest.raises(FeedFetchError, match=f"more than {MAX_REDIRECTS} redirects"):
        await _fetch(server.url(f"/hops/{MAX_REDIRECTS}"), traced, server)
    assert len(server.requests) == MAX_REDIRECTS + 1


async def test_a_redirect_without_location_is_refused(server: FeedServer, traced: Traced) -> None:
    with pytest.raises(FeedFetchError, match="HTTP 302 redirect without a Location"):
        await _fetch(server.url("/no-location"), traced, server)


async def test_a_server_error_names_its_status(server: FeedServer, traced: Traced) -> None:
    with pytest.raises(FeedFetchError) as refused:
        await _fetch(server.url("/broken"), traced, server)
    assert str(refused.value) == f"HTTP 500 Internal Server Error from {server.host}"
    with pytest.raises(FeedFetchError, match="HTTP 404 Not Found"):
        await _fetch(server.url("/feeds/missing.rss"), traced, server)


async def test_a_declared_oversize_body_is_refused_before_reading_it(
    server: FeedServer, traced: Traced
) -> None:
    with pytest.raises(FeedFetchError, match=f"{BIG} bytes \\(Content-Length\\), over 100000"):
        await _fetch(server.url("/big-declared"), traced, server, max_bytes=100_000, timeout=5)


async def test_a_chunked_oversize_body_is_cut_off_at_the_limit(
    server: FeedServer, traced: Traced
) -> None:
    with pytest.raises(FeedFetchError, match="the feed is over 100000 bytes"):
        await _fetch(server.url("/big-chunked"), traced, server, max_bytes=100_000, timeout=5)
    await asyncio.sleep(0.2)
    assert server.chunked_sent < BIG  # the fetcher stopped reading; the server could not finish


@pytest.mark.parametrize("path", ["/stall", "/stall-body"])
async def test_a_server_that_stalls_times_out(
    server: FeedServer, traced: Traced, path: str
) -> None:
    started = asyncio.get_running_loop().time()
    with pytest.raises(FeedFetchError, match="no complete answer within 0.3 s"):
        await _fetch(server.url(path), traced, server, timeout=0.3)
    assert asyncio.get_running_loop().time() - started < 2


async def test_loopback_is_refused_without_the_setting(server: FeedServer) -> None:
    watched = Traced(frozenset())
    async with watched.session:
        with pytest.raises(FeedFetchError, match="127.0.0.1 is a non-public address"):
            await fetch_feed(server.url("/feeds/news.rss"), session=watched.session)
    assert (watched.requests, watched.connections, server.requests) == ([], 0, [])


async def test_a_name_that_resolves_to_loopback_is_refused_before_connecting(
    server: FeedServer, traced: Traced
) -> None:
    with pytest.raises(FeedFetchError, match=r"localhost is at (127\.0\.0\.1|::1), which is a"):
        await _fetch(f"http://localhost:{server.port}/feeds/news.rss", traced, server)
    assert (traced.connections, server.requests) == (0, [])


async def test_an_allowed_name_is_fetched(server: FeedServer) -> None:
    response = await fetch_feed(
        f"http://localhost:{server.port}/feeds/news.rss",
        allowed_hosts=frozenset({f"localhost:{server.port}"}),
    )
    assert response.status == "ok"
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{other}/feeds/news.rss",  # loopback on a port not allowed
        "http://localhost:{port}/feeds/news.rss",  # a name for the allowed address
        "http://[::ffff:127.0.0.1]:{port}/feeds/news.rss",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
async def test_a_redirect_from_an_allowed_host_is_checked_again(
    server: FeedServer, other_server: FeedServer, traced: Traced, url: str
) -> None:
    target = url.format(port=server.port, other=other_server.port)
    with pytest.raises(FeedFetchError, match="non-public address"):
        await _fetch(server.url(f"/redirect?to={target}"), traced, server)
    assert traced.connections == 1  # to the allowed server, for the redirect only
    assert [r.path for r in server.requests] == ["/redirect"]
    assert other_server.requests == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a non-public address"),
        ("http://10.0.0.1/feed.xml", "10.0.0.1 is a non-public address"),
        ("http://[::1]:{port}/feeds/news.rss", "::1 is a non-public address"),
        ("http://[::ffff:127.0.0.1]:{port}/feeds/news.rss", "::ffff:7f00:1 is a non-public"),
        ("http://[::ffff:a9fe:a9fe]/", "::ffff:a9fe:a9fe is a non-public address"),
        ("http://0.0.0.0:{port}/", "0.0.0.0 is a non-public address"),
        ("http://100.64.0.1/", "100.64.0.1 is a non-public address"),
        ("http://[fd12:3456::1]/", "fd12:3456::1 is a non-public address"),
        ("ftp://127.0.0.1:{port}/feed.xml", "only http and https feeds are fetched, not ftp"),
        ("file:///etc/passwd", "only http and https feeds are fetched, not file"),
        ("http://user:secret@127.0.0.1:{port}/", "must not hold user information"),
        ("/feeds/news.rss", "not an absolute URL"),
    ],
)
async def test_refused_urls_are_refused_before_any_request(
    server: FeedServer, url: str, reason: str
) -> None:
    watched = Traced(frozenset())
    async with watched.session:
        with pytest.raises(FeedFetchError, match=reason.replace(".", r"\.")) as refused:
            await fetch_feed(url.format(port=server.port), session=watched.session)
        with pytest.raises(FeedFetchError):
            await check_feed_url(url.format(port=server.port), ())
    assert "secret" not in str(refused.value) and "\n" not in str(refused.value)
    assert (watched.requests, watched.connections, server.requests) == ([], 0, [])


async def test_check_feed_url_resolves_names_and_honours_the_setting(server: FeedServer) -> None:
    with pytest.raises(FeedFetchError, match="localhost is at"):
        await check_feed_url(f"http://localhost:{server.port}/feeds/news.rss", ())
    await check_feed_url(f"http://localhost:{server.port}/x", (f"localhost:{server.port}",))
    await check_feed_url(server.url("/feeds/news.rss"), frozenset({server.host}))
    assert server.requests == []  # a check resolves, it does not fetch
