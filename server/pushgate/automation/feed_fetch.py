"""Fetching a feed safely (issue #11): http(s) only; hosts on the public internet only, the
connection pinned to the addresses that were checked, every redirect checked again; at most
`max_bytes` of body, the whole fetch within `timeout`; a conditional GET (`ETag`,
`Last-Modified`, RFC 9110 §13.1) so that an unchanged feed costs a `304`.

Protocol only: it knows nothing of sites or storage. The address rules are in
`public_addresses`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import aiohttp
from yarl import URL

from pushgate import __version__
from pushgate.automation.public_addresses import (
    AddressRefused,
    PublicOnlyResolver,
    allowed_set,
    checked_literal,
    host_port,
    resolve_public,
)
from pushgate.automation.public_addresses import is_public_address as is_public

__all__ = ["FeedFetchError", "FeedResponse", "check_feed_url", "fetch_feed", "is_public"]

DEFAULT_TIMEOUT_SECONDS = 15.0
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5
CHUNK_BYTES = 64 * 1024
MAX_SHOWN_CHARS = 200
USER_AGENT = f"pushgate/{__version__} (+feed poller)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class FeedFetchError(Exception):
    """Why a feed could not be fetched: one line, safe to show and log (it names hosts and
    addresses, never a whole URL, whose query may hold a token)."""


@dataclass(frozen=True)
class FeedResponse:
    status: Literal["ok", "not_modified"]
    body: bytes  # empty when not modified
    etag: str | None
    last_modified: str | None
    final_url: str  # after redirects


def feed_session(
    allowed_hosts: Iterable[str] = (), *, trace_configs: list[aiohttp.TraceConfig] | None = None
) -> aiohttp.ClientSession:
    """A session fit for `fetch_feed`: names resolve through `PublicOnlyResolver` (no DNS
    cache, so each connection is checked), no cookies kept, no proxy from the environment,
    no timeouts of its own (`fetch_feed` times the whole fetch). `trace_configs` watch its
    requests and connections (tests, metrics)."""
    connector = aiohttp.TCPConnector(
        resolver=PublicOnlyResolver(allowed_set(allowed_hosts)), use_dns_cache=False
    )
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        timeout=aiohttp.ClientTimeout(total=None),
        headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
        trace_configs=trace_configs,
    )


async def check_feed_url(url: str, allowed_hosts: Iterable[str]) -> None:
    """FeedFetchError unless `url` is http(s) and its host resolves to public addresses only
    (or its `host:port` is allowed): what `POST /api/v1/feeds` checks before storing."""
    allowed = allowed_set(allowed_hosts)
    target = _checked_url(_parsed(url), allowed)
    try:
        await resolve_public(target.raw_host or "", target.port or 0, allowed)
    except AddressRefused as exc:
        raise FeedFetchError(str(exc)) from None


async def fetch_feed(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    allowed_hosts: Iterable[str] = (),
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    session: aiohttp.ClientSession | None = None,
) -> FeedResponse:
    """GET a feed: `ok` with its body and validators, or `not_modified` (a `304` to
    `If-None-Match: etag` / `If-Modified-Since: last_modified`). FeedFetchError says why not.

    `allowed_hosts` are exact `host:port` entries reached even at non-public addresses. A
    given `session` must come from `feed_session` with the same entries; without one, a
    session is made for this fetch and closed after it."""
    allowed = allowed_set(allowed_hosts)
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with asyncio.timeout(timeout):
            if session is not None:
                return await _follow(session, url, headers, allowed, max_bytes)
            async with feed_session(allowed) as own:
                return await _follow(own, url, headers, allowed, max_bytes)
    except TimeoutError:  # aiohttp's own timeouts are TimeoutErrors too
        raise FeedFetchError(f"no complete answer within {timeout:g} s") from None
    except AddressRefused as exc:  # from the resolver, before any connection
        raise FeedFetchError(str(exc)) from None
    except aiohttp.ClientConnectorDNSError as exc:
        raise FeedFetchError(f"the name {_shown(exc.host)} does not resolve") from None
    except aiohttp.ClientError as exc:
        raise FeedFetchError(_shown(f"cannot fetch: {type(exc).__name__}: {exc}")) from None


async def _follow(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    allowed: frozenset[str],
    max_bytes: int,
) -> FeedResponse:
    target = _checked_url(_parsed(url), allowed)
    for _ in range(MAX_REDIRECTS + 1):
        async with session.get(target, headers=headers, allow_redirects=False) as response:
            if response.status in REDIRECT_STATUSES:
                target = _checked_url(_location(target, response), allowed)
                continue
            return await _answer(response, target, headers, max_bytes)
    raise FeedFetchError(f"more than {MAX_REDIRECTS} redirects")


def _parsed(url: str) -> URL | None:
    try:
        return URL(url)
    except (ValueError, TypeError):
        return None


def _checked_url(target: URL | None, allowed: frozenset[str]) -> URL:
    """The URL if it may be fetched as far as can be told before resolving: http(s), a host,
    no user information, and an IP address only if public or allowed."""
    if target is None or not target.scheme:
        raise FeedFetchError("not an absolute URL")
    if target.scheme not in ("http", "https"):
        raise FeedFetchError(f"only http and https feeds are fetched, not {_shown(target.scheme)}")
    if target.raw_user is not None or target.raw_password is not None:
        raise FeedFetchError("a feed URL must not hold user information")
    if not target.raw_host or target.port is None:
        raise FeedFetchError("a feed URL needs a host")
    try:
        checked_literal(target.raw_host, target.port, allowed)
    except AddressRefused as exc:
        raise FeedFetchError(str(exc)) from None
    return target


def _location(target: URL, response: aiohttp.ClientResponse) -> URL | None:
    """Where a redirect points, relative references resolved against the URL fetched."""
    location = response.headers.get("Location")
    if not location:
        raise FeedFetchError(f"HTTP {response.status} redirect without a Location")
    try:
        return target.join(URL(location))
    except (ValueError, TypeError):
        return None


async def _answer(
    response: aiohttp.ClientResponse, target: URL, sent: dict[str, str], max_bytes: int
) -> FeedResponse:
    if response.status == 304:
        return FeedResponse(
            "not_modified",
            b"",
            response.headers.get("ETag") or sent.get("If-None-Match"),
            response.headers.get("Last-Modified") or sent.get("If-Modified-Since"),
            str(target),
        )
    if response.status != 200:
        raise FeedFetchError(
            f"HTTP {response.status} {_shown(response.reason or '')} from {_host(target)}"
        )
    body = await _body(response, max_bytes)
    etag, last_modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
    return FeedResponse("ok", body, etag, last_modified, str(target))


async def _body(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        raise FeedFetchError(f"the feed is {declared} bytes (Content-Length), over {max_bytes}")
    body = bytearray()
    # Counted after decompression, so a small gzip bomb stops at the limit too.
    async for chunk in response.content.iter_chunked(CHUNK_BYTES):
        body += chunk
        if len(body) > max_bytes:
            raise FeedFetchError(f"the feed is over {max_bytes} bytes")
    return bytes(body)


def _host(target: URL) -> str:
    return host_port(target.raw_host or "", target.port or 0)


def _shown(text: str | None) -> str:
    """One line of at most MAX_SHOWN_CHARS printable characters."""
    flat = "".join(c if c.isprintable() else " " for c in (text or ""))
    return " ".join(flat.split())[:MAX_SHOWN_CHARS]
