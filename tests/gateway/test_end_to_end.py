"""The whole path: real gateway process, local push service, simulated browsers that decrypt."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from pushgate.testing import LocalPushService
from pushgate.webpush.vapid import origin_of
from tests.conftest import (
    OVER_HTTP1_AND_HTTP2,
    Site,
    assert_every_push_came_over,
    subscribe_all,
    wait_until_done,
)

BROWSERS = 1000


@OVER_HTTP1_AND_HTTP2
async def test_broadcast_to_1000_browsers_each_decrypts_exactly_one_message(
    push_service: LocalPushService,
    site: Site,
    client: httpx.AsyncClient,
    push_protocol: str | None,
) -> None:
    browsers = [push_service.new_browser() for _ in range(BROWSERS)]
    await subscribe_all(client, site, browsers)
    sent = {
        "title": "Breaking: the watermelon grew up",
        "body": "Details inside.",
        "url": "https://news.example/articles/watermelon",
        "icon": "https://news.example/icon.png",
        "tag": "breaking",
        "actions": [{"action": "read", "title": "Read", "url": "https://news.example/read"}],
        "data": {"article": 42},
        "urgency": "high",
        "topic": "breaking-new",  # 12 characters: a length of 4n+1 is refused
        "ttl": 3600,
    }

    answer = await client.post("/api/v1/notifications", json=sent, headers=site.admin_headers)
    assert answer.status_code == 202, answer.text
    notification_id = answer.json()["id"]
    status = await wait_until_done(client, site, notification_id)

    assert status["counts"] == {
        "targeted": BROWSERS,
        "accepted": BROWSERS,
        "failed": 0,
        "gone": 0,
        "pending": 0,
        "capped": 0,
        "cancelled": 0,
        "delivered": 0,
        "clicked": 0,
        "dismissed": 0,
    }
    assert [len(b.messages) for b in browsers] == [1] * BROWSERS
    tokens = set()
    for browser in browsers:
        message = browser.messages[0]
        assert message.decrypt_error is None
        payload = message.json()
        assert payload["web_push"] == 8030
        assert payload["notification"] | {"timestamp": 0} == {
            "title": sent["title"],
            "body": sent["body"],
            "navigate": sent["url"],
            "icon": sent["icon"],
            "tag": "breaking",
            "data": {"article": 42},
            "timestamp": 0,
            "actions": [
                {"action": "read", "title": "Read", "navigate": "https://news.example/read"}
            ],
        }
        assert payload["pushgate"]["id"] == notification_id
        assert payload["pushgate"]["events_url"] == f"{site.gateway.base_url}/v1/events"
        tokens.add(payload["pushgate"]["token"])
        assert message.headers["TTL"] == "3600"
        assert message.headers["Urgency"] == "high"
        assert message.headers["Topic"] == "breaking-new"
        assert message.headers["Content-Encoding"] == "aes128gcm"
        assert message.vapid_public_key == site.vapid_public_key
        assert message.vapid_claims["aud"] == origin_of(browser.endpoint)
        assert message.vapid_claims["sub"] == "mailto:ops@news.example"
    assert len(tokens) == BROWSERS  # one event token per delivery
    assert_every_push_came_over(push_service, push_protocol)


@OVER_HTTP1_AND_HTTP2
async def test_vapid_token_is_signed_once_per_push_service_not_per_message(
    push_service: LocalPushService,
    site: Site,
    client: httpx.AsyncClient,
    push_protocol: str | None,
) -> None:
    browsers = [push_service.new_browser() for _ in range(50)]
    await subscribe_all(client, site, browsers)
    answer = await client.post(
        "/api/v1/notifications", json={"title": "t"}, headers=site.admin_headers
    )
    await wait_until_done(client, site, answer.json()["id"])
    authorizations = Counter(m.headers["Authorization"] for m in push_service.received)
    assert len(authorizations) == 1 and sum(authorizations.values()) == 50
    assert_every_push_came_over(push_service, push_protocol)


async def test_audience_by_tags_reaches_only_subscribers_with_every_pair(
    push_service: LocalPushService, site: Site, client: httpx.AsyncClient
) -> None:
    pro_news = [push_service.new_browser() for _ in range(3)]
    pro_only = [push_service.new_browser() for _ in range(2)]
    free = [push_service.new_browser() for _ in range(2)]
    await subscribe_all(client, site, pro_news, tags={"plan": "pro", "topic": "news"})
    await subscribe_all(client, site, pro_only, tags={"plan": "pro"})
    await subscribe_all(client, site, free, tags={"plan": "free", "topic": "news"})
    body = {"title": "Pro news", "audience": {"tags": {"plan": "pro", "topic": "news"}}}
    answer = await client.post("/api/v1/notifications", json=body, headers=site.admin_headers)
    status = await wait_until_done(client, site, answer.json()["id"])
    assert status["counts"]["targeted"] == 3 and status["counts"]["accepted"] == 3
    assert [len(b.messages) for b in pro_news + pro_only + free] == [1, 1, 1, 0, 0, 0, 0]


async def test_audience_by_external_ids_and_subscription_ids(
    push_service: LocalPushService, site: Site, client: httpx.AsyncClient
) -> None:
    alice, bob, carol = (push_service.new_browser() for _ in range(3))
    await subscribe_all(client, site, [alice], external_id="alice")
    await subscribe_all(client, site, [bob], external_id="bob")
    (carol_id,) = await subscribe_all(client, site, [carol])
    for audience in ({"external_ids": ["alice", "nobody"]}, {"subscription_ids": [carol_id]}):
        answer = await client.post(
            "/api/v1/notifications",
            json={"title": "Your cart", "audience": audience},
            headers=site.admin_headers,
        )
        status = await wait_until_done(client, site, answer.json()["id"])
        assert status["counts"]["targeted"] == 1
    assert [len(b.messages) for b in (alice, bob, carol)] == [1, 0, 1]


async def test_subscribe_during_broadcast_is_not_blocked(
    push_service: LocalPushService, site: Site, client: httpx.AsyncClient
) -> None:
    await subscribe_all(client, site, [push_service.new_browser() for _ in range(300)])
    answer = await client.post(
        "/api/v1/notifications", json={"title": "t"}, headers=site.admin_headers
    )
    late = [push_service.new_browser() for _ in range(20)]
    await asyncio.wait_for(subscribe_all(client, site, late), timeout=10)
    status = await wait_until_done(client, site, answer.json()["id"])
    assert status["counts"]["accepted"] == status["counts"]["targeted"] >= 300
