"""The admin API: authentication, notification validation, idempotency, isolation between sites."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.api.test_subscriptions import body as subscription_body
from tests.conftest import ORIGIN, Gateway, Site


async def post(
    client: httpx.AsyncClient, site: Site, payload: Any, **headers: str
) -> httpx.Response:
    return await client.post(
        "/api/v1/notifications", json=payload, headers=site.admin_headers | headers
    )


@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Bearer wrong-key", "Basic dXNlcjpwYXNz", "pgk_x"]
)
async def test_admin_calls_without_a_valid_key_are_401(
    site: Site, client: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for method, path in (
        ("POST", "/api/v1/notifications"),
        ("GET", "/api/v1/subscriptions"),
        ("GET", "/api/v1/notifications/x"),
        ("DELETE", "/api/v1/subscriptions/x"),
    ):
        answer = await client.request(method, path, json={"title": "t"}, headers=headers)
        assert answer.status_code == 401, (method, path)
        assert answer.json()["error"] == {
            "code": "unauthorized",
            "status": 401,
            "message": answer.json()["error"]["message"],
        }
        assert answer.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({}, "invalid_request"),  # no title
        ({"title": ""}, "invalid_request"),
        ({"title": "t", "url": "javascript:alert(1)"}, "invalid_request"),
        ({"title": "t", "icon": "/relative.png"}, "invalid_request"),
        ({"title": "t", "ttl": 0}, "invalid_request"),  # 0 drops messages for offline browsers
        ({"title": "t", "ttl": -5}, "invalid_request"),
        ({"title": "t", "ttl": "60"}, "invalid_request"),
        ({"title": "t", "urgency": "urgent"}, "invalid_request"),
        ({"title": "t", "actions": [{"action": "a"}]}, "invalid_request"),
        (
            {"title": "t", "actions": [{"action": str(i), "title": "x"} for i in range(3)]},
            "invalid_request",
        ),
        ({"title": "t", "data": [1, 2]}, "invalid_request"),
        ({"title": "t", "renotify": True}, "invalid_request"),
        ({"title": "t", "audience": {"all": True, "tags": {"a": "b"}}}, "invalid_request"),
        ({"title": "t", "audience": {"all": False}}, "invalid_request"),
        ({"title": "t", "audience": {"tags": {}}}, "invalid_request"),
        ({"title": "t", "audience": {"external_ids": []}}, "invalid_request"),
        ({"title": "t", "audience": {"segment": "x"}}, "invalid_request"),
        ({"title": "t", "topic": "x" * 33}, "invalid_topic"),
        ({"title": "t", "topic": "abcde"}, "invalid_topic"),  # length 5 = 4n+1
        ({"title": "t", "topic": "a"}, "invalid_topic"),
        ({"title": "t", "topic": "has space"}, "invalid_topic"),
        ({"title": "t", "topic": "a+b/"}, "invalid_topic"),
        ({"title": "t", "body": "x" * 2048, "data": {"blob": "y" * 2000}}, "payload_too_large"),
    ],
)
async def test_notification_refuses_bad_input_and_creates_nothing(
    site: Site, client: httpx.AsyncClient, payload: dict[str, Any], code: str
) -> None:
    answer = await post(client, site, payload, **{"Idempotency-Key": "k1"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == code
    # nothing was stored under that key: a valid request with it is a new notification
    assert (
        await post(client, site, {"title": "ok"}, **{"Idempotency-Key": "k1"})
    ).status_code == 202


async def test_payload_too_large_names_the_size(site: Site, client: httpx.AsyncClient) -> None:
    answer = await post(client, site, {"title": "t", "data": {"blob": "y" * 4000}})
    message = answer.json()["error"]["message"]
    sizes = [int(n) for n in re.findall(r"\d+", message)]
    assert 3993 in sizes and any(4000 < n < 4400 for n in sizes), message


@pytest.mark.parametrize("topic", ["ab", "abcd", "a_b-C9", "x" * 32, "x" * 31, "x" * 30])
async def test_valid_topic_passes_unchanged(
    site: Site, client: httpx.AsyncClient, topic: str
) -> None:
    answer = await post(client, site, {"title": "t", "topic": topic})
    assert answer.status_code == 202, answer.text
    got = await client.get(
        f"/api/v1/notifications/{answer.json()['id']}", headers=site.admin_headers
    )
    assert got.json()["topic"] == topic


async def test_notification_status_has_every_count(site: Site, client: httpx.AsyncClient) -> None:
    answer = await post(client, site, {"title": "nobody listens"})
    assert answer.status_code == 202
    assert answer.json() | {"id": None} == {"id": None, "status": "queued", "targeted_estimate": 0}
    got = await client.get(
        f"/api/v1/notifications/{answer.json()['id']}", headers=site.admin_headers
    )
    assert got.status_code == 200
    assert set(got.json()["counts"]) == {
        "targeted",
        "accepted",
        "failed",
        "gone",
        "pending",
        "capped",
        "cancelled",
        "delivered",
        "clicked",
        "dismissed",
    }
    assert got.json()["ttl"] == 28 * 24 * 3600  # the default: 4 weeks


async def test_invalid_json_and_oversized_body_on_admin_routes(
    site: Site, client: httpx.AsyncClient
) -> None:
    bad = await client.post("/api/v1/notifications", content=b"[", headers=site.admin_headers)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"
    big = await client.post(
        "/api/v1/notifications", content=b" " * 70_000, headers=site.admin_headers
    )
    assert big.status_code == 413 and big.json()["error"]["status"] == 413


async def test_a_sites_key_sees_only_its_own_data(
    gateway: Gateway, site: Site, client: httpx.AsyncClient
) -> None:
    other = gateway.create_site(name="other-site", origins=("https://other.example",))
    other_headers = {"Authorization": f"Bearer {other['api_key']}"}
    created = await client.post(
        site.subscriptions_url, json=subscription_body(), headers={"Origin": ORIGIN}
    )
    notification = await post(client, site, {"title": "mine"})

    assert (
        await client.get(
            f"/api/v1/notifications/{notification.json()['id']}", headers=other_headers
        )
    ).status_code == 404
    assert (
        await client.delete(f"/api/v1/subscriptions/{created.json()['id']}", headers=other_headers)
    ).status_code == 404
    listing = await client.get("/api/v1/subscriptions", headers=other_headers)
    assert listing.json() == {"data": [], "next_cursor": None}
    assert (
        await client.delete(
            f"/api/v1/subscriptions/{created.json()['id']}", headers=site.admin_headers
        )
    ).status_code == 204


async def test_subscriptions_are_paged_with_a_cursor(site: Site, client: httpx.AsyncClient) -> None:
    for i in range(5):
        await client.post(
            site.subscriptions_url,
            json=subscription_body(f"https://fcm.googleapis.com/fcm/send/{i}"),
            headers={"Origin": ORIGIN},
        )
    seen, cursor = [], None
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = (
            await client.get("/api/v1/subscriptions", params=params, headers=site.admin_headers)
        ).json()
        seen += [item["endpoint"] for item in page["data"]]
        assert all({"id", "endpoint", "created_at", "tags"} <= set(item) for item in page["data"])
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == [f"https://fcm.googleapis.com/fcm/send/{i}" for i in range(5)]
    bad = await client.get(
        "/api/v1/subscriptions", params={"limit": "0"}, headers=site.admin_headers
    )
    assert bad.status_code == 400


async def test_unknown_route_and_wrong_method_use_the_error_shape(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.get("/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = await client.put("/api/v1/notifications")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


async def test_home_and_health(client: httpx.AsyncClient) -> None:
    home = await client.get("/")
    assert home.status_code == 200 and "pushgate" in home.text and "0.1.0" in home.text
    health = await client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
