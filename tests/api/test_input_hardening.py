"""Bad input is a 400 in the error shape and stores nothing; an unexpected error is one log line.

Each case here was a 500, or worse a stored row that broke every later read (issue #8).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pushgate.api.http import TracebackThrottle
from pushgate.store import Store
from tests.api.asgi import InProcess, in_process
from tests.api.test_subscriptions import body as subscription_body
from tests.conftest import ORIGIN


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path) as gateway:
        yield gateway


def assert_error(answer: httpx.Response, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["status"]) == (code, status)
    return str(error["message"])


async def notify(app: InProcess, payload: Any) -> httpx.Response:
    content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return await app.client.post(
        "/api/v1/notifications",
        content=content,
        headers=app.admin_headers | {"Content-Type": "application/json"},
    )


async def subscribe(app: InProcess, content: bytes) -> httpx.Response:
    return await app.client.post(
        app.subscriptions_url,
        content=content,
        headers={"Origin": ORIGIN, "Content-Type": "application/json"},
    )


async def listed(app: InProcess) -> list[dict[str, Any]]:
    answer = await app.client.get("/api/v1/subscriptions", headers=app.admin_headers)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "a\u0000b"}, "title"),
        ({"title": "two\nlines"}, "title"),
        ({"title": "t", "body": "bell\u0007"}, "body"),
        ({"title": "t", "body": "c1\u0085"}, "body"),
        ({"title": "t", "tag": "x\u0000"}, "tag"),
        ({"title": "t", "lang": "en\n"}, "lang"),
        ({"title": "t", "url": "https://news.example/\u0000"}, "url"),
        ({"title": "t", "actions": [{"action": "a\u001b", "title": "A"}]}, "action"),
        ({"title": "t", "actions": [{"action": "a", "title": "A\u0000"}]}, "title"),
        ({"title": "t", "audience": {"external_ids": ["user\u0000"]}}, "external_ids[0]"),
        ({"title": "t", "audience": {"tags": {"plan": "pro\n"}}}, "plan"),
        ({"title": "t", "audience": {"tags": {"plan\n": "pro"}}}, "plan"),
    ],
)
async def test_control_characters_in_notification_fields_are_400_and_nothing_stored(
    app: InProcess, payload: dict[str, Any], field: str
) -> None:
    message = assert_error(await notify(app, payload), 400, "invalid_request")
    assert field in message
    assert await app.store.active_notifications() == []


async def test_body_keeps_newlines_and_tabs_and_data_carries_any_string(app: InProcess) -> None:
    payload = {
        "title": "t",
        "body": "line 1\r\nline 2\tend",
        # Free JSON, even the characters the payload builder uses for its token placeholder.
        "data": {"raw": "\u0000TOKEN\u0000 and \u0007"},
    }
    answer = await notify(app, payload)
    assert answer.status_code == 202, answer.text
    got = await app.client.get(
        f"/api/v1/notifications/{answer.json()['id']}", headers=app.admin_headers
    )
    assert got.status_code == 200
    assert got.json()["notification"]["body"] == payload["body"]
    assert got.json()["notification"]["data"] == payload["data"]


async def test_lone_surrogate_tag_is_400_stores_nothing_and_the_list_still_reads(
    app: InProcess,
) -> None:
    for tags in ('{"topic": "\\ud800"}', '{"\\udfff": "x"}', '{"topic": "\\ude00\\ud83d"}'):
        raw = json.dumps(subscription_body())[:-1] + f', "tags": {tags}}}'
        message = assert_error(await subscribe(app, raw.encode()), 400, "invalid_json")
        assert "surrogate" in message
    assert await listed(app) == []


async def test_a_paired_surrogate_escape_is_one_character_and_accepted(app: InProcess) -> None:
    raw = json.dumps(subscription_body())[:-1] + ', "tags": {"mood": "\\ud83d\\ude00"}}'
    answer = await subscribe(app, raw.encode())
    assert answer.status_code == 201, answer.text
    [item] = await listed(app)
    assert item["tags"] == {"mood": "\U0001f600"}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"title": "t", "data": {"x": NaN}}',
        b'{"title": "t", "data": {"x": Infinity}}',
        b'{"title": "t", "data": {"x": -Infinity}}',
        b'{"title": "t", "data": {"x": 1e999}}',
        b'{"title": "t", "data": {"x": "\\ud800"}}',
        b'{"title": "t", "title": "again"}',
        b'{"title": "caf\xe9"}',  # Latin-1, not UTF-8
    ],
)
async def test_notification_body_that_is_not_i_json_is_400(app: InProcess, raw: bytes) -> None:
    assert_error(await notify(app, raw), 400, "invalid_json")
    assert await app.store.active_notifications() == []


async def test_deeply_nested_json_is_400_not_a_recursion_error(app: InProcess) -> None:
    deep = b"[" * 1000 + b"]" * 1000  # under 2 KB: no authentication needed to send it
    answer = await app.client.post("/v1/events", content=deep)
    message = assert_error(answer, 400, "invalid_json")
    assert "32" in message
    unclosed = b'{"token": "' + b"[" * 1500 + b'", "type": "clicked"}'  # brackets in a string
    assert_error(await app.client.post("/v1/events", content=unclosed), 403, "invalid_token")


async def test_event_body_over_its_limit_is_413(app: InProcess) -> None:
    answer = await app.client.post("/v1/events", content=b" " * 3000)
    assert_error(answer, 413, "body_too_large")


@pytest.mark.parametrize("limit", ["\u00b2", "\u0661", "1\n", "-1", "1.0", "0", "1001", " 1"])
async def test_limit_accepts_ascii_digits_in_range_only(app: InProcess, limit: str) -> None:
    answer = await app.client.get(
        "/api/v1/subscriptions", params={"limit": limit}, headers=app.admin_headers
    )
    assert_error(answer, 400, "invalid_request")


@pytest.mark.parametrize("cursor", [str(2**63), "9" * 19, "9" * 20, "\u00b9", "-5", "1e3"])
async def test_cursor_must_fit_a_signed_64_bit_integer(app: InProcess, cursor: str) -> None:
    answer = await app.client.get(
        "/api/v1/subscriptions", params={"cursor": cursor}, headers=app.admin_headers
    )
    assert_error(answer, 400, "invalid_request")


async def test_largest_cursor_is_an_empty_last_page(app: InProcess) -> None:
    answer = await app.client.get(
        "/api/v1/subscriptions", params={"cursor": str(2**63 - 1)}, headers=app.admin_headers
    )
    assert answer.status_code == 200
    assert answer.json() == {"data": [], "next_cursor": None}


@pytest.mark.parametrize(
    "extra",
    [
        {"tags": {"a\n": "x"}},
        {"tags": {"topic": "sports\u0000"}},
        {"language": "en\n"},
        {"timezone": "Europe/Paris\n"},
        {"timezone": "zone.tab"},  # a file beside the zones, not a zone
        {"external_id": "user-7\u0000"},
        {"old_endpoint": "https://fcm.googleapis.com/fcm/send/x\n"},
    ],
)
async def test_subscribe_refuses_trailing_newlines_and_controls(
    app: InProcess, extra: dict[str, Any]
) -> None:
    answer = await subscribe(app, json.dumps(subscription_body(**extra)).encode())
    assert_error(answer, 400, "invalid_request")
    assert await listed(app) == []


async def test_subscription_keys_with_characters_outside_base64url_are_refused(
    app: InProcess,
) -> None:
    good = subscription_body()["subscription"]["keys"]["p256dh"]
    # The base64 decoder would skip the "!" and the key would be stored with it.
    for p256dh in (good[:10] + "!" + good[10:], good + "\n", good[:10] + "\u0000" + good[10:]):
        answer = await subscribe(app, json.dumps(subscription_body(p256dh=p256dh)).encode())
        assert_error(answer, 400, "invalid_key")
    assert await listed(app) == []


async def test_malformed_ipv6_url_is_400(app: InProcess) -> None:
    assert_error(await notify(app, {"title": "t", "url": "http://[::1"}), 400, "invalid_request")


async def test_event_action_with_control_characters_is_400(app: InProcess) -> None:
    answer = await app.client.post(
        "/v1/events", json={"token": "x", "type": "clicked", "action": "a\u0000"}
    )
    assert_error(answer, 400, "invalid_request")


class FailingStore:
    """The real store, except that listing subscriptions fails as a bug would."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def list_subscriptions(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom\nsecond line")


async def test_unexpected_error_is_500_with_a_request_id_and_one_log_line_each(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="pushgate")
    async with in_process(tmp_path, wrap=FailingStore) as app:
        answers = [
            await app.client.get("/api/v1/subscriptions", headers=app.admin_headers)
            for _ in range(3)
        ]
    records = [r for r in caplog.records if r.name == "pushgate.api"]
    assert len(records) == 3  # one a request, whatever the error
    assert sum(r.exc_info is not None for r in records) == 1  # one traceback a minute
    for answer, record in zip(answers, records, strict=True):
        message = assert_error(answer, 500, "internal_error")
        request_id = answer.headers["x-request-id"]
        assert request_id in message
        line = record.getMessage()
        assert "\n" not in line
        assert request_id in line and "GET /api/v1/subscriptions" in line
        assert "RuntimeError: boom\\u000asecond line" in line


def test_traceback_throttle_allows_one_a_minute_per_distinct_error() -> None:
    now = [0.0]
    throttle = TracebackThrottle(clock=lambda: now[0])

    def raised(kind: type[Exception]) -> Exception:
        try:
            raise kind("x")
        except Exception as exc:
            return exc

    first, other = raised(ValueError), raised(KeyError)
    assert throttle.due(first) and throttle.due(other)
    now[0] = 59.0
    assert not throttle.due(raised(ValueError)) and not throttle.due(other)
    now[0] = 60.0
    assert throttle.due(first) and not throttle.due(first)
