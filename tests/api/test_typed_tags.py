"""Typed tags (#9): strings, numbers and booleans keep their type when stored, returned, merged
with PATCH and compared by an audience; every refusal is a 400 naming the tag or the limit."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pushgate.store.models import Audience, NewNotification, NewSubscription
from tests.api.asgi import InProcess, in_process
from tests.api.test_subscriptions import FCM, VALID_AUTH, VALID_P256DH, body
from tests.conftest import ORIGIN

TYPED = {"plan": "pro", "score": 5, "ratio": 0.25, "beta": True, "churned": False}


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path) as app:
        yield app


async def subscribe(app: InProcess, endpoint: str = FCM, **extra: Any) -> httpx.Response:
    return await app.client.post(
        app.subscriptions_url, json=body(endpoint, **extra), headers={"Origin": ORIGIN}
    )


async def listed(app: InProcess) -> list[dict[str, Any]]:
    answer = await app.client.get("/api/v1/subscriptions", headers=app.admin_headers)
    return list(answer.json()["data"])


async def patch(app: InProcess, path: str, payload: Any) -> httpx.Response:
    return await app.client.patch(path, json=payload, headers=app.admin_headers)


def refused(answer: httpx.Response, *words: str) -> None:
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["status"]) == ("invalid_request", 400)
    for word in words:
        assert word in error["message"], error["message"]


async def test_tag_types_round_trip_through_subscribe_and_listing(app: InProcess) -> None:
    answer = await subscribe(app, tags=TYPED)
    assert answer.status_code == 201, answer.text
    assert answer.json()["tags"] == TYPED
    [item] = await listed(app)
    assert item["tags"] == TYPED
    assert [type(item["tags"][name]) for name in TYPED] == [str, int, float, bool, bool]


async def test_subscribe_post_replaces_the_stored_tags(app: InProcess) -> None:
    await subscribe(app, tags=TYPED)
    await subscribe(app, tags={"score": 6})
    assert (await listed(app))[0]["tags"] == {"score": 6}


async def test_101_tags_are_refused_naming_the_limit_and_100_are_kept(app: InProcess) -> None:
    refused(await subscribe(app, tags={f"t{i}": i for i in range(101)}), "101", "100")
    assert await listed(app) == []
    answer = await subscribe(app, tags={f"t{i}": "x" * 256 for i in range(100)})
    assert answer.status_code == 201, answer.text
    assert len(answer.json()["tags"]) == 100


@pytest.mark.parametrize(
    ("tags", "named"),
    [
        ({"long": "x" * 257}, "'long'"),
        ({"nested": {"a": 1}}, "'nested'"),
        ({"listed": [1]}, "'listed'"),
        ({"nothing": None}, "'nothing'"),  # null deletes only in a PATCH
        ({"huge": 2**63}, "'huge'"),
        ({"ctl": "a\u0085b"}, "'ctl'"),
        ({"": 1}, "''"),
        ({"x" * 65: 1}, "xxxx"),
        ({"bad name": 1}, "'bad name'"),
    ],
)
async def test_bad_tags_are_refused_naming_the_tag(
    app: InProcess, tags: dict[str, Any], named: str
) -> None:
    refused(await subscribe(app, tags=tags), named)
    assert await listed(app) == []


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999"])
async def test_non_finite_numbers_cannot_be_sent(app: InProcess, constant: str) -> None:
    raw = json.dumps(body())[:-1] + f', "tags": {{"score": {constant}}}}}'
    answer = await app.client.post(
        app.subscriptions_url,
        content=raw.encode(),
        headers={"Origin": ORIGIN, "Content-Type": "application/json"},
    )
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_json"


async def test_patch_subscription_merges_tags_and_null_deletes(app: InProcess) -> None:
    created = (await subscribe(app, tags=TYPED, external_id="user-1")).json()
    answer = await patch(
        app,
        f"/api/v1/subscriptions/{created['id']}",
        {"tags": {"score": 7.5, "beta": None, "new": "yes", "absent": None}, "language": "de"},
    )
    assert answer.status_code == 200, answer.text
    expected = {"plan": "pro", "score": 7.5, "ratio": 0.25, "churned": False, "new": "yes"}
    assert answer.json()["tags"] == expected
    assert answer.json()["language"] == "de" and answer.json()["external_id"] == "user-1"
    assert (await listed(app))[0]["tags"] == expected


async def test_patch_subscription_sets_and_clears_fields(app: InProcess) -> None:
    created = (await subscribe(app, timezone="Europe/Paris", external_id="user-1")).json()
    url = f"/api/v1/subscriptions/{created['id']}"
    answer = await patch(app, url, {"external_id": "user-2", "timezone": None})
    assert answer.status_code == 200, answer.text
    item = (await listed(app))[0]
    assert (item["external_id"], item["timezone"], item["tags"]) == ("user-2", None, {})
    assert (await patch(app, url, {})).json()["external_id"] == "user-2"  # nothing named


async def test_patch_subscription_past_100_tags_changes_nothing(app: InProcess) -> None:
    created = (await subscribe(app, tags={f"t{i}": i for i in range(99)})).json()
    url = f"/api/v1/subscriptions/{created['id']}"
    refused(await patch(app, url, {"tags": {"a": 1, "b": 2}, "language": "de"}), "101", "100")
    item = (await listed(app))[0]
    assert len(item["tags"]) == 99 and item["language"] is None
    answer = await patch(app, url, {"tags": {"t0": None, "a": 1, "b": 2}})  # 99 - 1 + 2
    assert answer.status_code == 200 and len(answer.json()["tags"]) == 100


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"tags": {"long": "x" * 257}}, "'long'"),
        ({"tags": {"x": [1]}}, "'x'"),
        ({"tags": ["x"]}, "tags"),
        ({"tag": {"x": 1}}, "'tag'"),  # misspelt: refused, not ignored
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"language": "not a language"}, "language"),
        ({"external_id": ""}, "external_id"),
        ({"external_id": "a\u0000"}, "external_id"),
    ],
)
async def test_patch_subscription_refuses_bad_input_and_changes_nothing(
    app: InProcess, payload: dict[str, Any], named: str
) -> None:
    created = (await subscribe(app, tags={"keep": 1})).json()
    refused(await patch(app, f"/api/v1/subscriptions/{created['id']}", payload), named)
    assert (await listed(app))[0]["tags"] == {"keep": 1}


async def test_patch_unknown_subscription_is_404(app: InProcess) -> None:
    answer = await patch(app, "/api/v1/subscriptions/nope", {"tags": {"a": 1}})
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


async def test_patch_user_merges_into_every_subscription_of_the_user(app: InProcess) -> None:
    await subscribe(app, FCM + "-1", external_id="team/ada", tags={"plan": "free", "x": 1})
    await subscribe(app, FCM + "-2", external_id="team/ada", tags={"plan": "free"})
    await subscribe(app, FCM + "-3", external_id="bob", tags={"plan": "free"})
    answer = await patch(app, "/api/v1/users/team%2Fada", {"tags": {"plan": "pro", "x": None}})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"external_id": "team/ada", "updated": 2}
    tags = {s["endpoint"][-1]: s["tags"] for s in await listed(app)}
    assert tags == {"1": {"plan": "pro"}, "2": {"plan": "pro"}, "3": {"plan": "free"}}


async def test_patch_user_without_subscriptions_is_404(app: InProcess) -> None:
    await subscribe(app, external_id="bob")
    answer = await patch(app, "/api/v1/users/ada", {"tags": {"plan": "pro"}})
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    refused(await patch(app, "/api/v1/users/bob", {}), "tags")
    refused(await patch(app, "/api/v1/users/bob", {"tags": {}, "language": "de"}), "language")


async def test_patch_user_past_100_tags_on_one_subscription_changes_none(
    app: InProcess,
) -> None:
    await subscribe(app, FCM + "-1", external_id="ada", tags={f"t{i}": i for i in range(100)})
    await subscribe(app, FCM + "-2", external_id="ada")
    refused(await patch(app, "/api/v1/users/ada", {"tags": {"new": True}}), "101", "100")
    assert sorted(len(s["tags"]) for s in await listed(app)) == [0, 100]


async def test_patch_needs_the_sites_api_key(app: InProcess) -> None:
    created = (await subscribe(app, external_id="ada")).json()
    for path in (f"/api/v1/subscriptions/{created['id']}", "/api/v1/users/ada"):
        answer = await app.client.patch(path, json={"tags": {"a": 1}})
        assert answer.status_code == 401


# --- audiences compare type and value (store level, as the broadcast expands them) ------------

STORED: dict[str, Any] = {
    "int5": 5,
    "float5": 5.0,
    "str5": "5",
    "true": True,
    "one": 1,
    "false": False,
    "zero": 0,
    "strtrue": "true",
    "none": None,
}


async def targeted(app: InProcess, value: Any) -> set[str]:
    """Who a notification to the audience `{"tags": {"v": value}}` is expanded to."""
    subs = [
        NewSubscription(
            f"{FCM}-{name}",
            VALID_P256DH,
            VALID_AUTH,
            tags=None if stored is None else {"v": stored},
        )
        for name, stored in STORED.items()
    ]
    await app.store.add_subscriptions_bulk(app.site_id, subs)
    new = NewNotification({"title": "t"}, Audience(tags={"v": value}), ttl=60)
    notification, _ = await app.store.create_notification(app.site_id, new)
    targets = await app.store.expand_audience(notification, 100, 0)
    return {t.endpoint.rsplit("-", 1)[1] for t in targets}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5, {"int5", "float5"}),
        (5.0, {"int5", "float5"}),
        ("5", {"str5"}),
        (True, {"true"}),
        (1, {"one"}),
        (False, {"false"}),
        (0, {"zero"}),
        ("true", {"strtrue"}),
    ],
)
async def test_audience_tags_match_type_and_value(
    app: InProcess, value: Any, expected: set[str]
) -> None:
    assert await targeted(app, value) == expected


async def test_audience_with_a_typed_tag_is_accepted_and_read_back(app: InProcess) -> None:
    audience = {"tags": {"score": 5, "beta": True, "plan": "pro"}}
    answer = await app.client.post(
        "/api/v1/notifications",
        json={"title": "t", "audience": audience},
        headers=app.admin_headers,
    )
    assert answer.status_code == 202, answer.text
    read = await app.client.get(
        f"/api/v1/notifications/{answer.json()['id']}", headers=app.admin_headers
    )
    assert read.json()["audience"] == audience
