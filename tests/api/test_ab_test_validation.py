"""`variants` and `ab_test` of `POST /api/v1/notifications`, in process: every malformed test
is a 400 with its code and a message naming the field, and creates nothing; a good one is
stored and shown back by GET with its variants in order and no winner yet."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from pushgate.api.openapi_schemas import SCHEMAS
from tests.api.asgi import InProcess, in_process

GOOD_TEST = {"sample_percent": 20, "winner_after": "1h", "metric": "clicked"}
TWO = [{"title": "A"}, {"title": "B", "body": "b"}]


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path) as one:
        yield one


def _body(**fields: Any) -> dict[str, Any]:
    return {"title": "Base", "variants": TWO, "ab_test": GOOD_TEST} | fields


BAD = [
    ({"ab_test": None}, "invalid_request", "variants need an ab_test"),
    ({"variants": None}, "invalid_request", "ab_test needs variants"),
    ({"variants": [{"title": "only"}]}, "invalid_request", "2 to 4"),
    ({"variants": [{"title": str(i)} for i in range(5)]}, "invalid_request", "2 to 4"),
    ({"variants": {"title": "A"}}, "invalid_request", "2 to 4"),
    ({"variants": ["A", "B"]}, "invalid_request", "variants[0]"),
    ({"variants": [{"title": "A"}, {"tag": "x"}]}, "invalid_request", "'tag' cannot differ"),
    ({"variants": [{"title": "A"}, {"title": ""}]}, "invalid_request", "variants[1]"),
    ({"variants": [{"title": "A"}, {"url": "ftp://x"}]}, "invalid_request", "variants[1]"),
    ({"variants": [{"title": "A"}, {"title": "x" * 257}]}, "invalid_request", "variants[1]"),
    ({"variants": [{"title": "A"}, {"actions": [{}]}]}, "invalid_request", "variants[1]"),
    ({"variants": [{"title": "A"}, {"data": [1]}]}, "invalid_request", "variants[1]"),
    ({"variants": [{"title": "A"}, {"body": "x" * 4000}]}, "invalid_request", "variants[1]"),
    ({"variants": [{"title": "A"}, {"title": "{{ x"}]}, "invalid_template", "variants[1].title"),
    (
        {"variants": [{"title": "A"}, {"data": {"d": "é" * 2000, "e": "é" * 2000}}]},
        "payload_too_large",
        "bytes",
    ),
    ({"ab_test": "20%"}, "invalid_request", "ab_test"),
    ({"ab_test": GOOD_TEST | {"colour": "red"}}, "invalid_request", "'colour'"),
    ({"ab_test": GOOD_TEST | {"sample_percent": 0}}, "invalid_request", "sample_percent"),
    ({"ab_test": GOOD_TEST | {"sample_percent": 100}}, "invalid_request", "sample_percent"),
    ({"ab_test": GOOD_TEST | {"sample_percent": 20.5}}, "invalid_request", "sample_percent"),
    ({"ab_test": GOOD_TEST | {"sample_percent": True}}, "invalid_request", "sample_percent"),
    ({"ab_test": GOOD_TEST | {"sample_percent": None}}, "invalid_request", "sample_percent"),
    ({"ab_test": GOOD_TEST | {"winner_after": "9s"}}, "invalid_request", "from 10s to 7d"),
    ({"ab_test": GOOD_TEST | {"winner_after": "8d"}}, "invalid_request", "from 10s to 7d"),
    ({"ab_test": GOOD_TEST | {"winner_after": 3600}}, "invalid_request", "winner_after"),
    ({"ab_test": GOOD_TEST | {"winner_after": "1 h"}}, "invalid_request", "winner_after"),
    ({"ab_test": {"sample_percent": 20}}, "invalid_request", "winner_after"),
    ({"ab_test": GOOD_TEST | {"metric": "opened"}}, "invalid_request", "clicked, delivered"),
    ({"localized": {"de": {"title": "B"}}}, "invalid_request", "localized"),
    ({"deliver_at_local": "09:00"}, "invalid_request", "deliver_at_local"),
]


@pytest.mark.parametrize(("change", "code", "says"), BAD)
async def test_a_bad_ab_test_is_400_with_its_code_and_creates_nothing(
    app: InProcess, change: dict[str, Any], code: str, says: str
) -> None:
    answer = await app.client.post(
        "/api/v1/notifications", json=_body(**change), headers=app.admin_headers
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == code and says in error["message"], error
    listed = await app.client.get("/api/v1/notifications", headers=app.admin_headers)
    assert listed.json()["data"] == []


async def test_a_good_ab_test_is_stored_and_shown_back(app: InProcess) -> None:
    body = _body(ab_test={"sample_percent": 35, "winner_after": "10s"})  # metric: clicked
    answer = await app.client.post("/api/v1/notifications", json=body, headers=app.admin_headers)
    assert answer.status_code == 202, answer.text
    shown = await app.client.get(
        f"/api/v1/notifications/{answer.json()['id']}", headers=app.admin_headers
    )
    data = shown.json()
    assert data["ab_test"] == {"sample_percent": 35, "winner_after": "10s", "metric": "clicked"}
    assert data["winner"] is None
    titles = [v["notification"]["title"] for v in data["variants"]]
    assert titles == ["A", "B"]
    assert data["variants"][1]["notification"]["body"] == "b"
    assert all(v["counts"]["targeted"] == 0 for v in data["variants"])


async def test_a_notification_without_a_test_shows_none(app: InProcess) -> None:
    answer = await app.client.post(
        "/api/v1/notifications", json={"title": "plain"}, headers=app.admin_headers
    )
    shown = await app.client.get(
        f"/api/v1/notifications/{answer.json()['id']}", headers=app.admin_headers
    )
    data = shown.json()
    assert (data["ab_test"], data["variants"], data["winner"]) == (None, [], None)


@pytest.mark.parametrize(
    ("change", "valid"),
    [
        ({}, True),
        ({"ab_test": {"sample_percent": 5, "winner_after": "10s"}}, True),
        ({"ab_test": None}, False),
        ({"variants": None}, False),
        ({"variants": [{"title": "A"}]}, False),
        ({"variants": [{"title": "A"}, {"tag": "x"}]}, False),
        ({"ab_test": GOOD_TEST | {"sample_percent": 100}}, False),
        ({"ab_test": GOOD_TEST | {"winner_after": "1 h"}}, False),
        ({"ab_test": GOOD_TEST | {"metric": "opened"}}, False),
    ],
)
def test_the_openapi_schema_agrees(change: dict[str, Any], valid: bool) -> None:
    body = {k: v for k, v in _body(**change).items() if v is not None}  # None: left out
    schema = jsonschema_rs.Draft202012Validator(SCHEMAS["NotificationRequest"])
    assert schema.is_valid(body) is valid
