"""Feeds end to end (issue #11): a real `pushgate serve` with the test clock polls a local feed
server; each new entry is sent once, decrypted by a simulated browser; the first poll, edits,
304s and restarts send nothing; private addresses are refused unless allowed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from pushgate.clock import TEST_CLOCK_ENV, FileClock
from pushgate.testing import LocalPushService
from tests.automation.feed_server import FeedServer, feed_server
from tests.automation.feeds import atom, rss
from tests.conftest import Gateway, Site, site_of, subscribe_all

START = 1_800_000_000.0
FIRST = [
    {"guid": "p-2", "title": "Second story", "link": "https://news.example/2", "summary": "Two"},
    {"guid": "p-1", "title": "First story", "link": "https://news.example/1", "summary": "One"},
]
NEW = {
    "guid": "p-3",
    "title": "Tram line approved",
    "link": "https://news.example/3",
    "summary": "<p>The council voted <b>31 to 20</b> &amp; work starts in spring; "
    + "the line runs from the station to the university, with twelve stops and a depot.</p>",
    "image": "https://news.example/3.jpg",
}


class Setup:
    def __init__(self, gateway: Gateway, site: Site, clock: Path, client: httpx.AsyncClient):
        self.gateway, self.site, self.clock, self.client = gateway, site, clock, client
        self.now = START
        self.poll_times: dict[str, str] = {}  # the `last_poll.at` each feed's last wait returned

    def advance(self, seconds: float) -> None:
        self.now += seconds
        FileClock.write(self.clock, self.now)

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = await self.client.post("/api/v1/feeds", json=body, headers=self.site.admin_headers)
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    async def feed(self, feed_id: str) -> dict[str, Any]:
        answer = await self.client.get(f"/api/v1/feeds/{feed_id}", headers=self.site.admin_headers)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    async def polled(self, feed_id: str, after: int, **expected: Any) -> dict[str, Any]:
        """Wait (real time: the poller ticks every second) for a poll after `after` requests,
        and for its outcome to be stored: the feed server sees the request before the gateway
        records what came of it (a poll's `at` is the test clock's, moved on before each poll)."""
        deadline = time.monotonic() + 15
        while True:
            feed = await self.feed(feed_id)
            poll = feed["last_poll"]
            done = (
                poll is not None
                and poll["at"] != self.poll_times.get(feed_id)
                and self.server.requests_seen > after
            )
            if done and all(feed.get(k) == v for k, v in expected.items()):
                self.poll_times[feed_id] = poll["at"]
                return feed
            if time.monotonic() > deadline:
                raise AssertionError(f"feed {feed}, expected {expected}")
            await asyncio.sleep(0.2)

    async def notifications(self) -> list[Any]:
        answer = await self.client.get("/api/v1/notifications", headers=self.site.admin_headers)
        return list(answer.json()["data"])

    server: Any = None


def start_gateway(
    push_service: LocalPushService, gateway_factory: Any, tmp_path: Path, allowed: str
) -> tuple[Gateway, Path]:
    clock = tmp_path / "clock"
    FileClock.write(clock, START)
    env = {TEST_CLOCK_ENV: str(clock), "PUSHGATE_ALLOWED_FEED_HOSTS": allowed}
    return gateway_factory(push_service.host_port, **env), clock


class Counting:
    def __init__(self, server: FeedServer) -> None:
        self._server = server

    @property
    def requests_seen(self) -> int:
        return len(self._server.requests)


@pytest.fixture
async def setup(push_service: LocalPushService, gateway_factory: Any, tmp_path: Path) -> Any:
    async with feed_server() as server:
        gateway, clock = start_gateway(push_service, gateway_factory, tmp_path, server.host)
        site = site_of(gateway)
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
            s = Setup(gateway, site, clock, client)
            s.server = Counting(server)
            s.feed_server = server  # type: ignore[attr-defined]
            yield s


async def test_an_rss_feed_sends_each_new_entry_once_and_never_its_backlog(
    setup: Setup, push_service: LocalPushService
) -> None:
    server: FeedServer = setup.feed_server  # type: ignore[attr-defined]
    browser = push_service.new_browser()
    await subscribe_all(setup.client, setup.site, [browser])
    server.files["/news.xml"] = rss(FIRST)
    feed = await setup.create({"url": server.url("/news.xml"), "interval": "5m"})
    assert feed["interval"] == "5m" and feed["last_poll"] is None
    first = await setup.polled(feed["id"], 0)
    assert first["last_poll"]["status"] == "ok" and first["sent"] == 0
    assert await setup.notifications() == []  # the backlog is only recorded

    setup.advance(300)  # due again: unchanged, so a conditional GET answered 304
    seen = len(server.requests)
    await setup.polled(feed["id"], seen)
    assert server.not_modified == 1
    assert (await setup.feed(feed["id"]))["last_poll"]["status"] == "not_modified"

    server.files["/news.xml"] = rss([NEW, *FIRST])
    setup.advance(300)
    seen = len(server.requests)
    polled = await setup.polled(feed["id"], seen, sent=1)
    assert polled["last_poll"]["error"] is None
    message = (await browser.wait_for(1, timeout=15))[0]
    shown = message.json()["notification"]
    assert shown["title"] == "Tram line approved"
    assert shown["navigate"] == "https://news.example/3"
    assert shown["body"].startswith("The council voted 31 to 20 & work starts in spring;")
    assert len(shown["body"]) <= 120 and shown["body"].endswith("…")

    # An edit of an entry already sent (same guid) sends nothing more; nor does a restart.
    edited = dict(NEW, title="Tram line approved (updated)")
    server.files["/news.xml"] = rss([edited, *FIRST])
    setup.advance(300)
    await setup.polled(feed["id"], len(server.requests))
    setup.gateway.kill()
    setup.gateway.start()
    setup.advance(300)
    await setup.polled(feed["id"], len(server.requests))
    assert len(await setup.notifications()) == 1
    await asyncio.sleep(1)
    assert len(browser.messages) == 1


async def test_an_atom_feed_with_templates_over_item(
    setup: Setup, push_service: LocalPushService
) -> None:
    server: FeedServer = setup.feed_server  # type: ignore[attr-defined]
    browser = push_service.new_browser()
    await subscribe_all(setup.client, setup.site, [browser], tags={"section": "tech"})
    posts = [{"guid": "urn:post:1", "title": "Hello", "link": "https://blog.example/1"}]
    server.files["/blog.atom"] = atom(posts)
    feed = await setup.create(
        {
            "url": server.url("/blog.atom"),
            "interval": "10s",
            "notification": {
                "title": "New on the blog: {{ item.title }}",
                "url": "{{ item.link }}?utm_source=push",
                "audience": {"tags": {"section": "tech"}},
            },
        }
    )
    await setup.polled(feed["id"], 0)
    new = {"guid": "urn:post:2", "title": "Faster fan-out", "link": "https://blog.example/2"}
    server.files["/blog.atom"] = atom([new, *posts])
    setup.advance(10)
    await setup.polled(feed["id"], len(server.requests), sent=1)
    shown = (await browser.wait_for(1, timeout=15))[0].json()["notification"]
    assert shown["title"] == "New on the blog: Faster fan-out"
    assert shown["navigate"] == "https://blog.example/2?utm_source=push"


async def test_a_failing_feed_backs_off_and_shows_its_error(setup: Setup) -> None:
    server: FeedServer = setup.feed_server  # type: ignore[attr-defined]
    feed = await setup.create({"url": server.url("/missing.xml"), "interval": "1m"})
    polled = await setup.polled(feed["id"], 0)
    assert polled["last_poll"]["status"] == "error"
    assert "HTTP 404" in polled["last_poll"]["error"]
    assert polled["failures"] == 1
    seen = len(server.requests)
    setup.advance(60)  # backed off: twice the interval
    await asyncio.sleep(2.5)
    assert len(server.requests) == seen
    setup.advance(61)
    await setup.polled(feed["id"], seen, failures=2)


async def test_a_redirect_to_a_private_address_is_refused(setup: Setup) -> None:
    server: FeedServer = setup.feed_server  # type: ignore[attr-defined]
    async with feed_server() as other:  # loopback, and not in PUSHGATE_ALLOWED_FEED_HOSTS
        other.files["/x.xml"] = rss(FIRST)
        server.redirects["/moved.xml"] = other.url("/x.xml")
        feed = await setup.create({"url": server.url("/moved.xml"), "interval": "1m"})
        polled = await setup.polled(feed["id"], 0)
        assert polled["last_poll"]["status"] == "error"
        assert "127.0.0.1" in polled["last_poll"]["error"]
        assert other.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/feed.xml",
        "http://localhost:9/feed.xml",
        "http://[::1]:9/feed.xml",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/feed.xml",
        "http://[::ffff:127.0.0.1]:9/feed.xml",
        "ftp://news.example/feed.xml",
    ],
)
async def test_private_and_loopback_feed_urls_are_refused(setup: Setup, url: str) -> None:
    answer = await setup.client.post(
        "/api/v1/feeds", json={"url": url, "interval": "5m"}, headers=setup.site.admin_headers
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://news.example/feed.xml", "interval": "5s"},
        {"url": "https://news.example/feed.xml", "interval": "25h"},
        {"url": "https://news.example/feed.xml"},
        {"url": "https://news.example/feed.xml", "interval": "5m", "notification": {"title": "{{"}},
        {"interval": "5m"},
        {"url": "https://news.example/feed.xml", "interval": "5m", "extra": True},
    ],
)
async def test_bad_feed_definitions_are_refused(setup: Setup, body: dict[str, Any]) -> None:
    answer = await setup.client.post("/api/v1/feeds", json=body, headers=setup.site.admin_headers)
    assert answer.status_code == 400, answer.text
