"""Tracked events at the edge (issue #11): the admin API's POST /api/v1/events and the page's
POST /v1/sites/{site_id}/track, with their validation, idempotency and CORS."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.test_subscriptions import FCM
from tests.api.test_subscriptions import body as subscription_body
from tests.conftest import ORIGIN, Site


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
