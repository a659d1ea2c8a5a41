"""Delivery events: tokens the gateway signed, counted once, forged ones refused."""

from __future__ import annotations

import httpx

from pushgate.testing import LocalPushService
from tests.conftest import ORIGIN, Site, subscribe_all, wait_until_done


async def _token_of_one_delivery(
    push_service: LocalPushService, site: Site, client: httpx.AsyncClient
) -> tuple[str, str]:
    browser = push_service.new_browser()
    await subscribe_all(client, site, [browser])
    answer = await client.post(
        "/api/v1/notifications", json={"title": "t"}, headers=site.admin_headers
    )
    await wait_until_done(client, site, answer.json()["id"])
    return answer.json()["id"], browser.messages[0].json()["pushgate"]["token"]


async def test_events_with_a_genuine_token_are_counted_once_each(
    push_service: LocalPushService, site: Site, client: httpx.AsyncClient
) -> None:
    notification_id, token = await _token_of_one_delivery(push_service, site, client)
    headers = {"Origin": ORIGIN}
    for kind in ("delivered", "clicked"):
        answer = await client.post(
            "/v1/events", json={"token": token, "type": kind, "action": "read"}, headers=headers
        )
        assert answer.status_code == 204, answer.text
        assert answer.headers["access-control-allow-origin"] == ORIGIN
    replay = await client.post(
        "/v1/events", json={"token": token, "type": "delivered"}, headers=headers
    )
    assert replay.status_code == 409 and replay.json()["error"]["code"] == "duplicate_event"
    status = await client.get(
        f"/api/v1/notifications/{notification_id}", headers=site.admin_headers
    )
    counts = status.json()["counts"]
    assert (counts["delivered"], counts["clicked"], counts["dismissed"]) == (1, 1, 0)


async def test_forged_or_malformed_tokens_are_refused(
    push_service: LocalPushService, site: Site, client: httpx.AsyncClient
) -> None:
    notification_id, token = await _token_of_one_delivery(push_service, site, client)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for forged in (flipped, "x" * 43, "", None, 12, token + "A"):
        answer = await client.post(
            "/v1/events", json={"token": forged, "type": "clicked"}, headers={"Origin": ORIGIN}
        )
        assert answer.status_code == 403, forged
        assert answer.json()["error"]["code"] == "invalid_token"
        assert answer.headers["access-control-allow-origin"] == ORIGIN  # the worker can read it
    wrong_type = await client.post("/v1/events", json={"token": token, "type": "opened"})
    assert wrong_type.status_code == 400
    foreign = await client.post(
        "/v1/events",
        json={"token": token, "type": "clicked"},
        headers={"Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    status = await client.get(
        f"/api/v1/notifications/{notification_id}", headers=site.admin_headers
    )
    assert status.json()["counts"]["clicked"] == 0


async def test_events_preflight_allows_registered_origins_only(
    site: Site, client: httpx.AsyncClient
) -> None:
    ok = await client.options(
        "/v1/events", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == ORIGIN
    evil = await client.options(
        "/v1/events",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert evil.status_code == 403
