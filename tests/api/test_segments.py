"""Saved segments (#9 item 3): create, list in pages, read with a live count, replace, delete;
409 segment_exists and segment_in_use; cycles and bad names refused with nothing stored."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.asgi import InProcess, in_process
from tests.api.test_subscriptions import FCM, body
from tests.conftest import ORIGIN

SPORTS = {"field": "tags.topic", "op": "eq", "value": "sports"}
PRO = {"field": "tags.plan", "op": "eq", "value": "pro"}


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path) as app:
        for i, tags in enumerate(
            [{"topic": "sports", "plan": "pro"}, {"topic": "sports"}, {"topic": "news"}]
        ):
            answer = await app.client.post(
                app.subscriptions_url,
                json=body(f"{FCM}{i}", tags=tags),
                headers={"Origin": ORIGIN},
            )
            assert answer.status_code == 201, answer.text
        yield app


async def call(app: InProcess, method: str, path: str, json: Any = None) -> httpx.Response:
    return await app.client.request(method, path, json=json, headers=app.admin_headers)


def error(answer: httpx.Response, status: int, code: str, words: str = "") -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    assert words in answer.json()["error"]["message"], answer.json()["error"]["message"]


def segments_stored(folder: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(folder / "pushgate.db") as db:
        return list(db.execute("SELECT name, filter FROM segments ORDER BY name"))


async def test_create_read_with_count_replace_and_delete(app: InProcess) -> None:
    created = await call(
        app, "POST", "/api/v1/segments", {"name": "sports", "filter": SPORTS, "description": "fans"}
    )
    assert created.status_code == 201, created.text
    segment = created.json()
    assert set(segment) == {"name", "filter", "description", "created_at", "updated_at"}
    assert (segment["name"], segment["filter"], segment["description"]) == (
        "sports",
        SPORTS,
        "fans",
    )
    read = (await call(app, "GET", "/api/v1/segments/sports")).json()
    assert read == segment | {"count": 2}

    both = {"and": [{"segment": "sports"}, PRO]}
    assert (
        await call(app, "POST", "/api/v1/segments", {"name": "pro-fans", "filter": both})
    ).status_code == 201
    assert (await call(app, "GET", "/api/v1/segments/pro-fans")).json()["count"] == 1

    replaced = await call(app, "PUT", "/api/v1/segments/sports", {"filter": {"not": SPORTS}})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["filter"] == {"not": SPORTS}
    assert replaced.json()["description"] is None
    assert replaced.json()["created_at"] == segment["created_at"]
    assert (await call(app, "GET", "/api/v1/segments/sports")).json()["count"] == 1
    assert (await call(app, "GET", "/api/v1/segments/pro-fans")).json()["count"] == 0

    error(await call(app, "DELETE", "/api/v1/segments/sports"), 409, "segment_in_use", "pro-fans")
    assert (await call(app, "DELETE", "/api/v1/segments/pro-fans")).status_code == 204
    assert (await call(app, "DELETE", "/api/v1/segments/sports")).status_code == 204
    error(await call(app, "GET", "/api/v1/segments/sports"), 404, "not_found")
    error(await call(app, "DELETE", "/api/v1/segments/sports"), 404, "not_found")
    error(await call(app, "PUT", "/api/v1/segments/sports", {"filter": SPORTS}), 404, "not_found")


async def test_a_second_segment_of_the_same_name_is_409_segment_exists(
    app: InProcess, tmp_path: Path
) -> None:
    assert (
        await call(app, "POST", "/api/v1/segments", {"name": "s", "filter": SPORTS})
    ).status_code == 201
    again = await call(app, "POST", "/api/v1/segments", {"name": "s", "filter": PRO})
    error(again, 409, "segment_exists", "'s'")
    assert segments_stored(tmp_path) == [
        ("s", '{"field": "tags.topic", "op": "eq", "value": "sports"}')
    ]


async def test_listing_pages_in_name_order(app: InProcess) -> None:
    for name in ("c", "a", "b"):
        await call(app, "POST", "/api/v1/segments", {"name": name, "filter": SPORTS})
    first = (await call(app, "GET", "/api/v1/segments?limit=2")).json()
    assert [s["name"] for s in first["data"]] == ["a", "b"]
    assert first["next_cursor"] == "b"
    rest = (await call(app, "GET", "/api/v1/segments?limit=2&cursor=b")).json()
    assert ([s["name"] for s in rest["data"]], rest["next_cursor"]) == (["c"], None)
    error(await call(app, "GET", "/api/v1/segments?limit=0"), 400, "invalid_request", "limit")
    error(await call(app, "GET", "/api/v1/segments?cursor=B!"), 400, "invalid_request", "cursor")


async def test_a_segment_in_a_cycle_is_refused_and_nothing_changes(
    app: InProcess, tmp_path: Path
) -> None:
    itself = {"name": "loop", "filter": {"or": [SPORTS, {"segment": "loop"}]}}
    error(await call(app, "POST", "/api/v1/segments", itself), 400, "invalid_request", "cycle")
    await call(app, "POST", "/api/v1/segments", {"name": "a", "filter": SPORTS})
    await call(app, "POST", "/api/v1/segments", {"name": "b", "filter": {"segment": "a"}})
    before = segments_stored(tmp_path)
    back = await call(app, "PUT", "/api/v1/segments/a", {"filter": {"not": {"segment": "b"}}})
    error(back, 400, "invalid_request", "filter: segment 'a' refers back to itself")
    assert segments_stored(tmp_path) == before


@pytest.mark.parametrize(
    ("method", "path", "sent", "words"),
    [
        ("POST", "/api/v1/segments", {"name": "Sports", "filter": SPORTS}, "name: a segment name"),
        ("POST", "/api/v1/segments", {"name": "x" * 65, "filter": SPORTS}, "name: a segment"),
        ("POST", "/api/v1/segments", {"name": "", "filter": SPORTS}, "name: a segment name"),
        ("POST", "/api/v1/segments", {"filter": SPORTS}, "name: a segment name"),
        ("POST", "/api/v1/segments", {"name": "s"}, "filter is required"),
        ("POST", "/api/v1/segments", {"name": "s", "filter": SPORTS, "x": 1}, "unknown member 'x'"),
        (
            "POST",
            "/api/v1/segments",
            {"name": "s", "filter": SPORTS, "description": 5},
            "description",
        ),
        ("POST", "/api/v1/segments", {"name": "s", "filter": {"segment": "none"}}, "no segment"),
        ("POST", "/api/v1/segments", [], "body must be a JSON object"),
        ("PUT", "/api/v1/segments/s", {"name": "t", "filter": SPORTS}, "keeps its name"),
        ("PUT", "/api/v1/segments/s", {"filter": {"op": "eq"}}, "filter.field"),
        ("POST", "/api/v1/audiences/count", {}, "audience is required"),
        ("POST", "/api/v1/audiences/count", {"audience": {"all": 1}}, "audience.all"),
    ],
)
async def test_malformed_segment_requests_are_400_and_change_nothing(
    app: InProcess, tmp_path: Path, method: str, path: str, sent: Any, words: str
) -> None:
    await call(app, "POST", "/api/v1/segments", {"name": "s", "filter": SPORTS})
    before = segments_stored(tmp_path)
    error(await call(app, method, path, sent), 400, "invalid_request", words)
    assert segments_stored(tmp_path) == before


async def test_a_queued_notification_keeps_its_segment_from_being_deleted(app: InProcess) -> None:
    await call(app, "POST", "/api/v1/segments", {"name": "sports", "filter": SPORTS})
    sent = {"title": "Kick-off", "audience": {"segment": "sports"}}
    answer = await call(app, "POST", "/api/v1/notifications", sent)
    assert answer.status_code == 202, answer.text  # no engine here: it stays queued
    in_use = await call(app, "DELETE", "/api/v1/segments/sports")
    error(in_use, 409, "segment_in_use", answer.json()["id"])
    assert (await call(app, "GET", "/api/v1/segments/sports")).status_code == 200


async def test_segments_are_per_site(app: InProcess) -> None:
    await call(app, "POST", "/api/v1/segments", {"name": "sports", "filter": SPORTS})
    _, other_key = await app.store.create_site("other", [ORIGIN])
    headers = {"Authorization": f"Bearer {other_key}"}
    answer = await app.client.get("/api/v1/segments/sports", headers=headers)
    error(answer, 404, "not_found")
    listed = await app.client.get("/api/v1/segments", headers=headers)
    assert listed.json() == {"data": [], "next_cursor": None}
