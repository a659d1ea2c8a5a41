"""The key's own site over the admin API (issue #13), in-process: `PATCH /api/v1/site` sets the
name, origins (normalised, http warned about) and the soft prompt's words, which the public
config then carries; `/api/v1/keys` makes, lists and revokes keys, a revoked key refused at once
and the last one never revoked. Every bad field a 400 naming it, and nothing written."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pushgate.api.render import iso
from pushgate.clock import TEST_CLOCK_ENV, FileClock
from tests.api.asgi import InProcess, in_process
from tests.conftest import ORIGIN

NO_PROMPT = {"text": None, "accept": None, "dismiss": None, "snooze_days": None}
WORDS = {"text": "Breaking news, as it happens?", "accept": "Yes", "dismiss": "Later"}


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path) as app:
        yield app


async def site(app: InProcess, api_key: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else app.admin_headers
    answer = await app.client.get("/api/v1/site", headers=headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def patch(app: InProcess, body: Any) -> httpx.Response:
    return await app.client.patch("/api/v1/site", json=body, headers=app.admin_headers)


async def config(app: InProcess) -> dict[str, Any]:
    answer = await app.client.get(f"/v1/sites/{app.site_id}/config", headers={"Origin": ORIGIN})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_get_site_has_name_origins_prompt_and_created_at(app: InProcess) -> None:
    body = await site(app)
    assert (body["id"], body["name"], body["origins"]) == (app.site_id, "news", [ORIGIN])
    assert body["prompt"] == NO_PROMPT
    assert body["created_at"].endswith("Z")
    assert (await config(app))["prompt"] == NO_PROMPT  # null: the snippet's own words


async def test_patch_sets_name_origins_and_prompt_and_the_config_carries_the_words(
    app: InProcess,
) -> None:
    answer = await patch(
        app,
        {
            "name": "  Daily News ",
            "origins": [ORIGIN + ":443/", " HTTPS://WWW.News.Example ", ORIGIN],
            "prompt": WORDS | {"snooze_days": 3},
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["name"] == "Daily News"
    assert body["origins"] == [ORIGIN, "https://www.news.example"]
    assert body["prompt"] == WORDS | {"snooze_days": 3}
    assert "warnings" not in body
    assert await site(app) == body
    assert (await config(app))["prompt"] == WORDS | {"snooze_days": 3}
    # The new origin is the site's now: the browser's Origin header matches it as sent.
    www = await app.client.get(
        f"/v1/sites/{app.site_id}/config", headers={"Origin": "https://www.news.example"}
    )
    assert www.headers["access-control-allow-origin"] == "https://www.news.example"


async def test_prompt_members_not_named_stay_and_null_resets(app: InProcess) -> None:
    await patch(app, {"prompt": WORDS | {"snooze_days": 3}})
    answer = await patch(app, {"prompt": {"accept": None, "snooze_days": 14}})
    assert answer.json()["prompt"] == WORDS | {"accept": None, "snooze_days": 14}
    answer = await patch(app, {"prompt": None})
    assert answer.json()["prompt"] == NO_PROMPT
    assert (await config(app))["prompt"] == NO_PROMPT


async def test_an_http_origin_is_stored_with_a_warning(app: InProcess) -> None:
    answer = await patch(app, {"origins": [ORIGIN, "http://news.example", "http://localhost:8081"]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["origins"] == [ORIGIN, "http://news.example", "http://localhost:8081"]
    [warning] = answer.json()["warnings"]
    assert warning.startswith("http://news.example: browsers only allow push on https")


async def test_rules_and_profile_change_in_one_patch(app: InProcess) -> None:
    answer = await patch(app, {"name": "Sports", "default_timezone": "Europe/Berlin"})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["name"], answer.json()["default_timezone"]) == (
        "Sports",
        "Europe/Berlin",
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "a\nb"}, "name"),
        ({"name": 5}, "name"),
        ({"origins": []}, "origins"),
        ({"origins": "https://news.example"}, "origins"),
        ({"origins": [ORIGIN, "news.example"]}, "origins[1]"),
        ({"origins": ["https://news.example/blog"]}, "origins[0]"),
        ({"origins": ["https://user@news.example"]}, "origins[0]"),
        ({"origins": [7]}, "origins[0]"),
        ({"origins": [ORIGIN] * 101}, "origins"),
        ({"prompt": "Subscribe?"}, "prompt"),
        ({"prompt": {"text": ""}}, "prompt.text"),
        ({"prompt": {"text": "x" * 201}}, "prompt.text"),
        ({"prompt": {"accept": "x" * 41}}, "prompt.accept"),
        ({"prompt": {"dismiss": "a\u0000b"}}, "prompt.dismiss"),
        ({"prompt": {"snooze_days": 0}}, "prompt.snooze_days"),
        ({"prompt": {"snooze_days": 366}}, "prompt.snooze_days"),
        ({"prompt": {"snooze_days": True}}, "prompt.snooze_days"),
        ({"prompt": {"snooze_days": 1.5}}, "prompt.snooze_days"),
        ({"prompt": {"title": "x"}}, "prompt.title"),
        ({"api_key": "x"}, "api_key"),
        ({"name": "Fine", "quiet_hours": {"start": "25:00", "end": "08:00"}}, "quiet_hours.start"),
        ([], "body"),
    ],
)
async def test_each_bad_field_is_a_400_naming_it_and_nothing_changes(
    app: InProcess, body: Any, field: str
) -> None:
    before = await site(app)
    answer = await patch(app, body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["status"]) == ("invalid_request", 400)
    assert error["message"].startswith(field + " "), error["message"]
    assert await site(app) == before


async def test_renaming_to_another_sites_name_is_a_409(app: InProcess) -> None:
    await app.store.create_site("sports", ["https://sports.example"])
    answer = await patch(app, {"name": "sports", "prompt": {"text": "Goal?"}})
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["code"] == "site_exists"
    assert (await site(app))["name"] == "news"


async def keys(app: InProcess, api_key: str | None = None) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else app.admin_headers
    answer = await app.client.get("/api/v1/keys", headers=headers)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


async def test_a_new_key_works_at_once_and_a_revoked_one_is_refused_at_once(
    app: InProcess,
) -> None:
    [old] = await keys(app)
    assert set(old) == {"id", "name", "created_at", "last_used_at"}
    assert old["name"] == "default" and old["last_used_at"] is not None  # this very call
    made = await app.client.post("/api/v1/keys", json={"name": "ci"}, headers=app.admin_headers)
    assert made.status_code == 201, made.text
    new = made.json()
    assert set(new) == {"id", "name", "api_key"} and new["name"] == "ci"
    assert (await site(app, new["api_key"]))["id"] == app.site_id
    listed = await keys(app, new["api_key"])
    assert [k["id"] for k in listed] == [old["id"], new["id"]]
    assert new["api_key"] not in str(listed) and app.api_key not in str(listed)

    revoked = await app.client.delete(
        f"/api/v1/keys/{old['id']}", headers={"Authorization": f"Bearer {new['api_key']}"}
    )
    assert revoked.status_code == 204, revoked.text
    refused = await app.client.get("/api/v1/site", headers=app.admin_headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"
    assert [k["id"] for k in await keys(app, new["api_key"])] == [new["id"]]


async def test_the_last_key_is_not_revoked(app: InProcess) -> None:
    [only] = await keys(app)
    answer = await app.client.delete(f"/api/v1/keys/{only['id']}", headers=app.admin_headers)
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["code"] == "last_api_key"
    assert len(await keys(app)) == 1


async def test_another_sites_key_or_an_unknown_id_is_not_found(app: InProcess) -> None:
    other, _ = await app.store.create_site("sports", ["https://sports.example"])
    [other_key] = await app.store.list_api_keys(other.id)
    await app.client.post("/api/v1/keys", json={"name": "spare"}, headers=app.admin_headers)
    for key_id in (other_key.id, "key_unknown"):
        answer = await app.client.delete(f"/api/v1/keys/{key_id}", headers=app.admin_headers)
        assert answer.status_code == 404, answer.text
    assert len(await app.store.list_api_keys(other.id)) == 1


@pytest.mark.parametrize(
    "body", [{}, {"name": ""}, {"name": "x" * 65}, {"name": None}, {"name": "a", "b": 1}, ["ci"]]
)
async def test_a_bad_key_request_is_a_400_and_makes_no_key(app: InProcess, body: Any) -> None:
    answer = await app.client.post("/api/v1/keys", json=body, headers=app.admin_headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_request"
    assert len(await keys(app)) == 1


async def test_keys_need_a_valid_key(app: InProcess) -> None:
    for method in ("GET", "POST"):
        answer = await app.client.request(method, "/api/v1/keys", json={"name": "x"})
        assert answer.status_code == 401
    answer = await app.client.get("/api/v1/keys", headers={"Authorization": "Bearer pgk_wrong"})
    assert answer.status_code == 401


async def test_last_use_is_written_at_most_once_a_minute_per_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = tmp_path / "clock"
    FileClock.write(clock, 1_800_000_000)
    monkeypatch.setenv(TEST_CLOCK_ENV, str(clock))  # the gateway's documented test clock
    async with in_process(tmp_path) as app:

        async def last_used() -> str | None:
            [key] = await app.store.list_api_keys(app.site_id)
            return None if key.last_used_at is None else iso(key.last_used_at)

        assert await last_used() is None
        await site(app)
        assert await last_used() == "2027-01-15T08:00:00.000Z"
        FileClock.write(clock, 1_800_000_059)
        await site(app)
        assert await last_used() == "2027-01-15T08:00:00.000Z"  # within the minute: no write
        FileClock.write(clock, 1_800_000_060)
        await site(app)
        assert await last_used() == "2027-01-15T08:01:00.000Z"
