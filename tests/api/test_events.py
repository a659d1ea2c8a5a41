"""Tracked events at the edge (issue #11): the admin API's POST /api/v1/events and the page's
POST /v1/sites/{site_id}/track, with their validation, idempotency and CORS."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.test_subscriptions import FCM
from tests.api.test_subscriptions import body as subscription_body
from tests.conftest import ORIGIN, Site, site_of


async def subscribe(client: httpx.AsyncClient, site: Site, endpoint: str = FCM) -> str:
    answer = await client.post(
        site.subscriptions_url,
        json=subscription_body(endpoint, external_id="u1"),
        headers={"Origin": ORIGIN},
    )
    assert answer.status_code in (200, 201), answer.text
    return str(answer.json()["id"])


async def event(client: httpx.AsyncClient, site: Site, payload: Any) -> httpx.Response:
    return await client.post("/api/v1/events", json=payload, headers=site.admin_headers)


def refused(answer: httpx.Response, status: int, code: str, *words: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    for word in words:
        assert word in answer.json()["error"]["message"]


async def test_an_event_of_a_user_is_202_and_the_same_id_again_200(
    site: Site, client: httpx.AsyncClient
) -> None:
    payload = {
        "name": "cart_add",
        "external_id": "u1",
        "props": {"cart_id": "c1", "total": 12.5, "gift": False},
        "occurred_at": "2026-12-01T09:00:00+01:00",
        "id": "evt-1",
    }
    first = await event(client, site, payload)
    assert first.status_code == 202, first.text
    assert first.json() | {"received_at": None} == {
        "id": "evt-1",
        "name": "cart_add",
        "external_id": "u1",
        "subscription_id": None,
        "props": {"cart_id": "c1", "total": 12.5, "gift": False},
        "occurred_at": "2026-12-01T08:00:00.000Z",
        "received_at": None,
    }
    again = await event(client, site, payload | {"props": {"other": 1}})
    assert again.status_code == 200
    assert again.json() == first.json()  # ignored: the first one stands


async def test_an_event_of_a_subscription_and_ids_made_up(
    site: Site, client: httpx.AsyncClient
) -> None:
    subscription_id = await subscribe(client, site)
    answers = [await event(client, site, {"name": "view", "subscription_id": subscription_id})]
    answers.append(await event(client, site, {"name": "view", "subscription_id": subscription_id}))
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].json()["id"] != answers[1].json()["id"]
    assert answers[0].json()["subscription_id"] == subscription_id


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"external_id": "u1"}, ["name"]),
        ({"name": "bad name", "external_id": "u1"}, ["name"]),
        ({"name": "x" * 65, "external_id": "u1"}, ["name"]),
        ({"name": "e"}, ["external_id", "subscription_id"]),
        ({"name": "e", "external_id": "u1", "subscription_id": "s"}, ["exactly one"]),
        ({"name": "e", "external_id": "u1", "props": [1]}, ["props"]),
        ({"name": "e", "external_id": "u1", "props": {"a": {"nested": 1}}}, ["'a'"]),
        ({"name": "e", "external_id": "u1", "props": {"a": "x" * 257}}, ["'a'"]),
        ({"name": "e", "external_id": "u1", "props": {f"p{i}": i for i in range(51)}}, ["50"]),
        ({"name": "e", "external_id": "u1", "occurred_at": "yesterday"}, ["occurred_at"]),
        ({"name": "e", "external_id": "u1", "extra": 1}, ["extra"]),
        ({"name": "e", "external_id": "u1", "id": ""}, ["id"]),
    ],
)
async def test_bad_events_are_400_naming_the_field(
    site: Site, client: httpx.AsyncClient, payload: dict[str, Any], words: list[str]
) -> None:
    refused(await event(client, site, payload), 400, "invalid_request", *words)


async def test_unknown_subscription_is_404_and_a_body_over_8_kib_413(
    site: Site, client: httpx.AsyncClient
) -> None:
    refused(await event(client, site, {"name": "e", "subscription_id": "nope"}), 404, "not_found")
    big = {"name": "e", "external_id": "u1", "props": {"a": "x" * 200}, "pad": "y" * 9000}
    refused(await event(client, site, big), 413, "body_too_large")


async def test_the_page_tracks_for_its_browser_with_cors(
    site: Site, client: httpx.AsyncClient
) -> None:
    await subscribe(client, site)
    url = f"/v1/sites/{site.id}/track"
    page = {"Origin": ORIGIN}
    answer = await client.post(url, json={"endpoint": FCM, "name": "cart_add"}, headers=page)
    assert answer.status_code == 202, answer.text
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    unknown = await client.post(
        url, json={"endpoint": FCM + "-other", "name": "cart_add"}, headers=page
    )
    refused(unknown, 404, "not_found")
    assert unknown.headers["access-control-allow-origin"] == ORIGIN  # the page can read why
    bad = await client.post(url, json={"endpoint": FCM, "name": "no spaces"}, headers=page)
    refused(bad, 400, "invalid_request", "name")
    foreign = await client.post(
        url, json={"endpoint": FCM, "name": "e"}, headers={"Origin": "https://evil.example"}
    )
    refused(foreign, 403, "origin_not_allowed")
    preflight = await client.options(url, headers=page | {"Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204
    assert "POST" in preflight.headers["access-control-allow-methods"]


async def test_events_need_the_sites_api_key(site: Site, client: httpx.AsyncClient) -> None:
    answer = await client.post("/api/v1/events", json={"name": "e", "external_id": "u"})
    refused(answer, 401, "unauthorized")


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"name": "e", "external_id": "u1", "occurred_at": "2026-12-01T09:00:00"}, ["occurred_at"]),
        ({"name": "e", "external_id": "u1", "occurred_at": 1780000000}, ["occurred_at"]),
        ({"name": "e", "external_id": "u1", "props": {"no space": 1}}, ["props", "'no space'"]),
        ({"name": "e", "external_id": "u1", "props": {"a": "bell\u0007"}}, ["props", "control"]),
        ({"name": "e", "external_id": "u1", "props": {"a": None}}, ["props", "'a'"]),
        ({"name": "e", "external_id": "u1", "props": {"a": 1e300}}, ["props", "'a'"]),
        ({"name": "e", "external_id": "u1", "props": {"a": [1]}}, ["props", "'a'"]),
        ({"name": "e", "external_id": "u1", "id": "x" * 257}, ["id"]),
        ({"name": "e", "external_id": 5}, ["external_id"]),
        ({"name": 5, "external_id": "u1"}, ["name"]),
        ([], ["body"]),
    ],
)
async def test_bad_props_times_and_ids_are_400_naming_the_field(
    site: Site, client: httpx.AsyncClient, payload: Any, words: list[str]
) -> None:
    refused(await event(client, site, payload), 400, "invalid_request", *words)


async def test_an_event_without_occurred_at_occurred_when_it_was_received(
    site: Site, client: httpx.AsyncClient
) -> None:
    answer = await event(client, site, {"name": "visit", "external_id": "no-subscription-yet"})
    assert answer.status_code == 202, answer.text
    assert answer.json()["occurred_at"] == answer.json()["received_at"]
    assert answer.json()["props"] == {}
    assert len(answer.json()["id"]) == 32  # uuid4 hex


async def test_the_pages_event_is_stored_tied_to_its_subscription_with_typed_props(
    site: Site, client: httpx.AsyncClient
) -> None:
    subscription_id = await subscribe(client, site)
    props = {"cart_id": "c1", "total": 12.5, "items": 3, "gift": True}
    tracked = await client.post(
        f"/v1/sites/{site.id}/track",
        json={"endpoint": FCM, "name": "cart_add", "props": props},
        headers={"Origin": ORIGIN},
    )
    assert tracked.status_code == 202, tracked.text
    # The same id through the admin API is ignored and answers the stored event.
    stored = await event(
        client, site, {"id": tracked.json()["id"], "name": "x", "external_id": "u"}
    )
    assert stored.status_code == 200, stored.text
    assert stored.json()["subscription_id"] == subscription_id
    assert (stored.json()["name"], stored.json()["external_id"]) == ("cart_add", None)
    assert stored.json()["props"] == props
    assert [type(v) for v in stored.json()["props"].values()] == [str, float, int, bool]


async def test_the_pages_refusals_carry_cors_and_a_foreign_page_gets_none(
    site: Site, client: httpx.AsyncClient
) -> None:
    await subscribe(client, site)
    url, page = f"/v1/sites/{site.id}/track", {"Origin": ORIGIN}
    big = await client.post(
        url, json={"endpoint": FCM, "name": "e", "pad": "y" * 9000}, headers=page
    )
    refused(big, 413, "body_too_large")
    for payload, word in [
        ({"endpoint": FCM, "name": "e", "props": {"a": {"b": 1}}}, "props"),
        ({"endpoint": 5, "name": "e"}, "endpoint"),
        ({"endpoint": FCM, "name": "e", "external_id": "u"}, "external_id"),
    ]:
        answer = await client.post(url, json=payload, headers=page)
        refused(answer, 400, "invalid_request", word)
        assert answer.headers["access-control-allow-origin"] == ORIGIN
    assert big.headers["access-control-allow-origin"] == ORIGIN
    no_origin = await client.post(url, json={"endpoint": FCM, "name": "e"})
    refused(no_origin, 403, "origin_not_allowed")
    foreign = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    answer = await client.options(url, headers=foreign)
    refused(answer, 403, "origin_not_allowed")
    assert "access-control-allow-origin" not in answer.headers
    unknown_site = await client.post(
        "/v1/sites/no-such-site/track", json={"endpoint": FCM, "name": "e"}, headers=page
    )
    refused(unknown_site, 404, "not_found")


async def test_events_are_rate_limited_per_address_from_pages_and_per_key_from_back_ends(
    gateway_factory: Any,
) -> None:
    gateway = gateway_factory(
        PUSHGATE_RATE_LIMIT_PER_CLIENT="3", PUSHGATE_RATE_LIMIT_PER_API_KEY="2"
    )
    site, other = site_of(gateway, "one"), site_of(gateway, "two")
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
        await subscribe(client, site)  # the address's first request
        url, page = f"/v1/sites/{site.id}/track", {"Origin": ORIGIN}
        tracked = [
            await client.post(url, json={"endpoint": FCM, "name": "e"}, headers=page)
            for _ in range(3)
        ]
        assert [a.status_code for a in tracked] == [202, 202, 429]
        refused(tracked[2], 429, "rate_limited")
        assert tracked[2].headers["access-control-allow-origin"] == ORIGIN
        assert "retry-after" in tracked[2].headers
        payload = {"name": "e", "external_id": "u"}
        answers = [await event(client, site, payload) for _ in range(3)]
        assert [a.status_code for a in answers] == [202, 202, 429]
        assert (await event(client, other, payload)).status_code == 202  # its own key's count
