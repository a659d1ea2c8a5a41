"""The public subscribe API: every validation rule, with its error code, and nothing stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ORIGIN, UNUSED_PUSH_HOST, Site

VALID_P256DH = (
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
)
VALID_AUTH = "BTBZMqHH6r4Tts7J_aSIgg"
FCM = "https://fcm.googleapis.com/fcm/send/abc123"


def body(
    endpoint: str = FCM, p256dh: str = VALID_P256DH, auth: str = VALID_AUTH, **extra: Any
) -> dict[str, Any]:
    return {
        "subscription": {
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": p256dh, "auth": auth},
        },
        **extra,
    }


async def stored(client: httpx.AsyncClient, site: Site) -> list[dict[str, Any]]:
    answer = await client.get("/api/v1/subscriptions", headers=site.admin_headers)
    return list(answer.json()["data"])


async def test_subscribe_new_endpoint_is_201_and_again_is_200_with_same_id(
    site: Site, client: httpx.AsyncClient
) -> None:
    extra = {
        "timezone": "Europe/Paris",
        "language": "fr-FR",
        "tags": {"topic": "sports"},
        "external_id": "user-7",
    }
    first = await client.post(
        site.subscriptions_url, json=body(**extra), headers={"Origin": ORIGIN}
    )
    again = await client.post(
        site.subscriptions_url, json=body(tags={"topic": "tech"}), headers={"Origin": ORIGIN}
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.headers["access-control-allow-origin"] == ORIGIN
    [item] = await stored(client, site)
    assert item["id"] == first.json()["id"] and item["endpoint"] == FCM
    assert item["tags"] == {"topic": "tech"}  # tags given replace the stored ones
    assert (item["timezone"], item["language"], item["external_id"]) == (
        "Europe/Paris",
        "fr-FR",
        "user-7",
    )


REFUSED = [
    ("http://fcm.googleapis.com/fcm/send/x", "endpoint_not_allowed"),  # not https
    ("https://evil.example/push", "endpoint_not_allowed"),  # not a push service
    ("https://fcm.googleapis.com@evil.example/x", "endpoint_not_allowed"),  # userinfo trick
    ("https://evil.example#@fcm.googleapis.com/x", "endpoint_not_allowed"),
    ("https://fcm.googleapis.com:8443/x", "endpoint_not_allowed"),  # odd port
    ("https://fcm.googleapis.com.evil.example/x", "endpoint_not_allowed"),
    ("https://127.0.0.1/x", "endpoint_not_allowed"),
    ("http://127.0.0.1:9@127.0.0.1:22/x", "endpoint_not_allowed"),
    ("http://2130706433:9/x", "endpoint_not_allowed"),  # 127.0.0.1 spelled as a number
    ("http://127.1:9/x", "endpoint_not_allowed"),
    ("http://localhost:9/x", "endpoint_not_allowed"),
    ("http://127.0.0.1:10/x", "endpoint_not_allowed"),  # allowed host, other port
    ("https://x.notify.windows.com@10.0.0.1/", "endpoint_not_allowed"),
    ("file:///etc/passwd", "endpoint_not_allowed"),
]


@pytest.mark.parametrize(("endpoint", "code"), REFUSED)
async def test_subscribe_refuses_endpoints_off_the_allowlist(
    site: Site, client: httpx.AsyncClient, endpoint: str, code: str
) -> None:
    answer = await client.post(
        site.subscriptions_url, json=body(endpoint), headers={"Origin": ORIGIN}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == code
    assert await stored(client, site) == []


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/abc",
        "https://updates.push.services.mozilla.com/wpush/v2/abc",
        "https://web.push.apple.com/QO3x",
        "https://wns2-by3p.notify.windows.com/w/?token=abc",
    ],
)
async def test_subscribe_accepts_the_known_push_services(
    site: Site, client: httpx.AsyncClient, endpoint: str
) -> None:
    answer = await client.post(
        site.subscriptions_url, json=body(endpoint), headers={"Origin": ORIGIN}
    )
    assert answer.status_code == 201, answer.text


async def test_subscribe_accepts_plain_http_on_an_allowed_extra_host(
    site: Site, client: httpx.AsyncClient
) -> None:
    answer = await client.post(
        site.subscriptions_url,
        json=body(f"http://{UNUSED_PUSH_HOST}/push/a"),
        headers={"Origin": ORIGIN},
    )
    assert answer.status_code == 201


@pytest.mark.parametrize(
    ("request_body", "code"),
    [
        (body(p256dh=VALID_P256DH[:-3]), "invalid_key"),
        (body(p256dh="B" + "A" * 86), "invalid_key"),  # 65 bytes, not on the curve
        (body(auth="AAAA"), "invalid_key"),
        (body(auth=VALID_AUTH + "AA"), "invalid_key"),
        (body(p256dh=123), "invalid_key"),
        ({"subscription": "nope"}, "invalid_request"),
        ({}, "invalid_request"),
        ([], "invalid_request"),
        (body(tags={"bad key!": "x"}), "invalid_request"),
        (body(tags={"topic": [5]}), "invalid_request"),
        (body(tags={"topic": {"a": 1}}), "invalid_request"),
        (body(timezone="Mars/Olympus"), "invalid_request"),
        (body(language="not a language"), "invalid_request"),
        (body(external_id=""), "invalid_request"),
    ],
)
async def test_subscribe_refuses_bad_fields(
    site: Site, client: httpx.AsyncClient, request_body: Any, code: str
) -> None:
    answer = await client.post(
        site.subscriptions_url, json=request_body, headers={"Origin": ORIGIN}
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["status"]) == (code, 400)
    assert await stored(client, site) == []


async def test_subscribe_invalid_json_is_400(site: Site, client: httpx.AsyncClient) -> None:
    answer = await client.post(
        site.subscriptions_url,
        content=b"{not json",
        headers={"Origin": ORIGIN, "Content-Type": "application/json"},
    )
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_json"


async def test_subscribe_body_over_the_limit_is_413(site: Site, client: httpx.AsyncClient) -> None:
    huge = body(external_id="x" * 70_000)
    answer = await client.post(site.subscriptions_url, json=huge, headers={"Origin": ORIGIN})
    assert answer.status_code == 413
    assert answer.json()["error"] == {
        "code": "body_too_large",
        "status": 413,
        "message": answer.json()["error"]["message"],
    }
    assert await stored(client, site) == []


async def test_subscribe_from_a_foreign_origin_is_403_without_cors(
    site: Site, client: httpx.AsyncClient
) -> None:
    answer = await client.post(
        site.subscriptions_url, json=body(), headers={"Origin": "https://evil.example"}
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in answer.headers
    preflight = await client.options(
        site.subscriptions_url,
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 403
    assert await stored(client, site) == []


async def test_preflight_from_the_site_allows_content_type(
    site: Site, client: httpx.AsyncClient
) -> None:
    answer = await client.options(
        site.subscriptions_url,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    assert "content-type" in answer.headers["access-control-allow-headers"]
    assert "POST" in answer.headers["access-control-allow-methods"]


async def test_subscribe_to_unknown_site_is_404(site: Site, client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/v1/sites/nosuchsite/subscriptions", json=body(), headers={"Origin": ORIGIN}
    )
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


async def test_unsubscribe_removes_the_endpoint(site: Site, client: httpx.AsyncClient) -> None:
    await client.post(site.subscriptions_url, json=body(), headers={"Origin": ORIGIN})
    answer = await client.request(
        "DELETE", site.subscriptions_url, json={"endpoint": FCM}, headers={"Origin": ORIGIN}
    )
    assert answer.status_code == 204
    assert await stored(client, site) == []


async def test_resubscribe_with_old_endpoint_keeps_the_subscriber_id(
    site: Site, client: httpx.AsyncClient
) -> None:
    first = await client.post(
        site.subscriptions_url, json=body(tags={"a": "1"}), headers={"Origin": ORIGIN}
    )
    moved = await client.post(
        site.subscriptions_url,
        json=body(FCM + "-new", old_endpoint=FCM),
        headers={"Origin": ORIGIN},
    )
    assert moved.status_code == 200 and moved.json()["id"] == first.json()["id"]
    [item] = await stored(client, site)
    assert item["endpoint"] == FCM + "-new" and item["tags"] == {"a": "1"}


async def test_site_config_gives_the_vapid_key_and_cors(
    site: Site, client: httpx.AsyncClient
) -> None:
    answer = await client.get(f"/v1/sites/{site.id}/config", headers={"Origin": ORIGIN})
    assert answer.status_code == 200
    assert answer.json()["vapid_public_key"] == site.vapid_public_key
    assert answer.json()["site_id"] == site.id
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    assert "private" not in answer.text.lower()


async def test_external_id_null_clears_it_and_absent_keeps_it(
    site: Site, client: httpx.AsyncClient
) -> None:
    await client.post(
        site.subscriptions_url, json=body(external_id="user-7"), headers={"Origin": ORIGIN}
    )
    await client.post(site.subscriptions_url, json=body(), headers={"Origin": ORIGIN})
    assert (await stored(client, site))[0]["external_id"] == "user-7"
    await client.post(
        site.subscriptions_url, json=body(external_id=None), headers={"Origin": ORIGIN}
    )
    assert (await stored(client, site))[0]["external_id"] is None


async def test_snippet_and_worker_are_served_for_revalidation(client: httpx.AsyncClient) -> None:
    for path in ("/static/pushgate.js", "/sw/pushgate-sw.js"):
        answer = await client.get(path)
        assert answer.status_code == 200 and "javascript" in answer.headers["content-type"]
        assert answer.headers["cache-control"] == "no-cache" and answer.headers["etag"]
