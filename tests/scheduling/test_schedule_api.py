"""The scheduling API in-process (no delivery engine, a fixed clock): send_at, deliver_at_local
and throttle_per_minute checked at the edge, listing by status, cancel and its 409."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from pushgate.app import create_app
from pushgate.store import open_store
from tests.api.asgi import BASE_URL, handler_settings
from tests.conftest import ORIGIN

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC).timestamp()


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    settings = handler_settings(tmp_path)
    async with open_store(settings) as store:
        _, api_key = await store.create_site("news", [ORIGIN])
        app = create_app(settings, store=store, deliver=False, wall_clock=lambda: NOW)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
                yield client, {"Authorization": f"Bearer {api_key}"}


async def _send(api: Any, **fields: Any) -> httpx.Response:
    client, headers = api
    return await client.post(
        "/api/v1/notifications", json={"title": "t", **fields}, headers=headers
    )


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"send_at": "2026-06-01T14:00:00"}, "send_at"),  # no offset
        ({"send_at": "2026-06-01 14:00"}, "send_at"),
        ({"send_at": "2026-02-30T14:00:00Z"}, "send_at"),
        ({"send_at": 1780000000}, "send_at"),
        ({"send_at": "2026-07-02T12:00:00Z"}, "send_at"),  # 31 days ahead
        ({"send_at": "2026-06-01T11:58:59Z"}, "send_at"),  # more than a minute past
        ({"deliver_at_local": "7:00"}, "deliver_at_local"),
        ({"deliver_at_local": "24:00"}, "deliver_at_local"),
        ({"deliver_at_local": 700}, "deliver_at_local"),
        ({"throttle_per_minute": 59}, "throttle_per_minute"),
        ({"throttle_per_minute": 1_000_001}, "throttle_per_minute"),
        ({"throttle_per_minute": True}, "throttle_per_minute"),
        ({"throttle_per_minute": 60.5}, "throttle_per_minute"),
        ({"ignore_quiet_hours": "yes"}, "ignore_quiet_hours"),
        ({"ignore_frequency_cap": 1}, "ignore_frequency_cap"),
    ],
)
async def test_bad_schedule_is_400_naming_the_field_and_stores_nothing(
    api: Any, fields: dict[str, Any], path: str
) -> None:
    answer = await _send(api, **fields)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_request" and error["message"].startswith(path)
    client, headers = api
    listed = await client.get("/api/v1/notifications", headers=headers)
    assert listed.json() == {"data": [], "next_cursor": None}


async def test_send_at_later_is_scheduled_and_listed_with_its_options(api: Any) -> None:
    answer = await _send(
        api,
        send_at="2026-06-01T16:30:00+02:00",
        deliver_at_local="07:00",
        throttle_per_minute=600,
        ignore_quiet_hours=True,
        ignore_frequency_cap=True,
    )
    assert answer.status_code == 202 and answer.json()["status"] == "scheduled"
    await _send(api)  # now: queued
    client, headers = api
    listed = (await client.get("/api/v1/notifications?status=scheduled", headers=headers)).json()
    assert [n["id"] for n in listed["data"]] == [answer.json()["id"]]
    got = listed["data"][0]
    assert got["send_at"] == "2026-06-01T14:30:00.000Z"
    assert (got["deliver_at_local"], got["throttle_per_minute"]) == ("07:00", 600)
    assert got["ignore_quiet_hours"] is got["ignore_frequency_cap"] is True
    assert got["counts"]["capped"] == got["counts"]["cancelled"] == 0


async def test_send_at_within_the_last_minute_is_sent_now(api: Any) -> None:
    answer = await _send(api, send_at="2026-06-01T11:59:30Z")
    assert answer.status_code == 202 and answer.json()["status"] == "queued"


async def test_list_pages_and_refuses_an_unknown_status(api: Any) -> None:
    for _ in range(3):
        await _send(api, send_at="2026-06-02T00:00:00Z")
    client, headers = api
    first = (await client.get("/api/v1/notifications?limit=2", headers=headers)).json()
    assert len(first["data"]) == 2 and first["next_cursor"]
    rest = await client.get(
        f"/api/v1/notifications?limit=2&cursor={first['next_cursor']}", headers=headers
    )
    assert len(rest.json()["data"]) == 1 and rest.json()["next_cursor"] is None
    bad = await client.get("/api/v1/notifications?status=later", headers=headers)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_request"


async def test_cancel_scheduled_targets_nobody_and_a_second_cancel_answers_the_same(
    api: Any,
) -> None:
    created = (await _send(api, send_at="2026-06-02T00:00:00Z")).json()
    client, headers = api
    url = f"/api/v1/notifications/{created['id']}/cancel"
    answer = await client.post(url, headers=headers)
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
    assert set(answer.json()["counts"].values()) == {0}
    again = await client.post(url, headers=headers)
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    missing = await client.post("/api/v1/notifications/nope/cancel", headers=headers)
    assert missing.status_code == 404


async def test_cancel_done_notification_is_409_not_cancellable(api: Any, tmp_path: Path) -> None:
    created = (await _send(api)).json()
    async with open_store(handler_settings(tmp_path)) as store:
        notification = next(
            n for n in await store.active_notifications(NOW) if n.id == created["id"]
        )
        await store.finish_notification(notification.key)
    client, headers = api
    answer = await client.post(f"/api/v1/notifications/{created['id']}/cancel", headers=headers)
    assert answer.status_code == 409
    assert answer.json()["error"] == {
        "code": "not_cancellable",
        "message": answer.json()["error"]["message"],
        "status": 409,
    }
