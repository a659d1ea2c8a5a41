"""`GET` and `PATCH /api/v1/site` (#9 item 5) on a real gateway over HTTP: the key's own site
with its default time zone, quiet hours and frequency cap; every bad value a 400 naming the
field, and nothing written."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import ORIGIN, Gateway, Site, site_of

NO_RULES = {"default_timezone": "UTC", "quiet_hours": None, "frequency_cap": None}
QUIET = {"start": "22:00", "end": "08:00", "allow_high_urgency": False}
CAP = {"max": 2, "period": "24h"}
SITE_NUMBERS = itertools.count()


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as http:
        yield http


@pytest.fixture
def site(gateway: Gateway) -> Site:
    return site_of(gateway, name=f"rules-{next(SITE_NUMBERS)}")


async def get(client: httpx.AsyncClient, site: Site) -> dict[str, Any]:
    answer = await client.get("/api/v1/site", headers=site.admin_headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def patch(client: httpx.AsyncClient, site: Site, body: Any) -> httpx.Response:
    return await client.patch("/api/v1/site", json=body, headers=site.admin_headers)


def refused(answer: httpx.Response, field: str) -> None:
    assert answer.status_code == 400, answer.text
    assert answer.json() == {
        "error": {
            "code": "invalid_request",
            "message": answer.json()["error"]["message"],
            "status": 400,
        }
    }
    assert answer.json()["error"]["message"].startswith(field + " "), answer.text


async def test_get_site_answers_the_keys_own_site_with_no_rules(
    client: httpx.AsyncClient, site: Site, gateway: Gateway
) -> None:
    other = site_of(gateway, name="another-site")
    body = await get(client, site)
    assert body == {
        "id": site.id,
        "name": body["name"],
        "origins": [ORIGIN],
        "vapid_public_key": site.vapid_public_key,
        **NO_RULES,
        "prompt": {"text": None, "accept": None, "dismiss": None, "snooze_days": None},
        "prompt_variants": [],
        "created_at": body["created_at"],
    }
    assert (await get(client, other))["id"] == other.id


async def test_patch_sets_each_rule_and_get_returns_it(
    client: httpx.AsyncClient, site: Site
) -> None:
    rules = {"default_timezone": "Europe/Berlin", "quiet_hours": QUIET, "frequency_cap": CAP}
    answer = await patch(client, site, rules)
    assert answer.status_code == 200, answer.text
    assert answer.json() | rules == answer.json()
    assert await get(client, site) == answer.json()


async def test_patch_changes_only_the_rules_it_names(client: httpx.AsyncClient, site: Site) -> None:
    await patch(client, site, {"quiet_hours": QUIET, "frequency_cap": CAP})
    answer = await patch(client, site, {"default_timezone": "Asia/Kathmandu"})
    assert answer.status_code == 200, answer.text
    assert {k: answer.json()[k] for k in NO_RULES} == {
        "default_timezone": "Asia/Kathmandu",
        "quiet_hours": QUIET,
        "frequency_cap": CAP,
    }


async def test_null_clears_a_rule_and_the_zone_returns_to_utc(
    client: httpx.AsyncClient, site: Site
) -> None:
    await patch(client, site, {"default_timezone": "Asia/Kolkata", "quiet_hours": QUIET})
    await patch(client, site, {"frequency_cap": CAP})
    answer = await patch(
        client, site, {"default_timezone": None, "quiet_hours": None, "frequency_cap": None}
    )
    assert answer.status_code == 200, answer.text
    assert {k: answer.json()[k] for k in NO_RULES} == NO_RULES
    assert {k: v for k, v in (await get(client, site)).items() if k in NO_RULES} == NO_RULES


async def test_quiet_hours_may_end_before_they_start_and_allow_high_urgency(
    client: httpx.AsyncClient, site: Site
) -> None:
    evening = {"start": "23:30", "end": "06:15", "allow_high_urgency": True}
    daytime = {"start": "09:00", "end": "17:00"}
    assert (await patch(client, site, {"quiet_hours": evening})).json()["quiet_hours"] == evening
    answer = await patch(client, site, {"quiet_hours": daytime})
    assert answer.json()["quiet_hours"] == daytime | {"allow_high_urgency": False}


@pytest.mark.parametrize(
    ("cap", "valid"),
    [
        ({"max": 1, "period": "1m"}, True),
        ({"max": 1000, "period": "30d"}, True),
        ({"max": 5, "period": "720h"}, True),
        ({"max": 3, "period": "90m"}, True),
        ({"max": 0, "period": "24h"}, False),
        ({"max": 1001, "period": "24h"}, False),
        ({"max": 2, "period": "31d"}, False),
        ({"max": 2, "period": "721h"}, False),
        ({"max": 2, "period": "0m"}, False),
    ],
)
async def test_frequency_cap_bounds(
    client: httpx.AsyncClient, site: Site, cap: dict[str, Any], valid: bool
) -> None:
    answer = await patch(client, site, {"frequency_cap": cap})
    if valid:
        assert answer.status_code == 200 and answer.json()["frequency_cap"] == cap, answer.text
    else:
        refused(answer, "frequency_cap.max" if cap["max"] in (0, 1001) else "frequency_cap.period")


BAD_BODIES = [
    ({"default_timezone": "Mars/Olympus_Mons"}, "default_timezone"),
    ({"default_timezone": "../../etc/passwd"}, "default_timezone"),
    ({"default_timezone": "europe/berlin"}, "default_timezone"),
    ({"default_timezone": ""}, "default_timezone"),
    ({"default_timezone": 1}, "default_timezone"),
    ({"quiet_hours": "22:00-08:00"}, "quiet_hours"),
    ({"quiet_hours": {"start": "22:00"}}, "quiet_hours.end"),
    ({"quiet_hours": {"start": "24:00", "end": "08:00"}}, "quiet_hours.start"),
    ({"quiet_hours": {"start": "7:00", "end": "08:00"}}, "quiet_hours.start"),
    ({"quiet_hours": {"start": "22:00", "end": "08:60"}}, "quiet_hours.end"),
    ({"quiet_hours": {"start": "22:00", "end": "08:00:00"}}, "quiet_hours.end"),
    ({"quiet_hours": {"start": 2200, "end": "08:00"}}, "quiet_hours.start"),
    ({"quiet_hours": {"start": "22:00", "end": "22:00"}}, "quiet_hours.end"),
    (
        {"quiet_hours": {"start": "22:00", "end": "08:00", "allow_high_urgency": "yes"}},
        "quiet_hours.allow_high_urgency",
    ),
    ({"quiet_hours": {"start": "22:00", "end": "08:00", "urgent": True}}, "quiet_hours.urgent"),
    ({"frequency_cap": [2, "24h"]}, "frequency_cap"),
    ({"frequency_cap": {"max": 2}}, "frequency_cap.period"),
    ({"frequency_cap": {"period": "24h"}}, "frequency_cap.max"),
    ({"frequency_cap": {"max": 2.5, "period": "24h"}}, "frequency_cap.max"),
    ({"frequency_cap": {"max": True, "period": "24h"}}, "frequency_cap.max"),
    ({"frequency_cap": {"max": "2", "period": "24h"}}, "frequency_cap.max"),
    ({"frequency_cap": {"max": 2, "period": "24"}}, "frequency_cap.period"),
    ({"frequency_cap": {"max": 2, "period": "1w"}}, "frequency_cap.period"),
    ({"frequency_cap": {"max": 2, "period": "-1h"}}, "frequency_cap.period"),
    ({"frequency_cap": {"max": 2, "period": "1h30m"}}, "frequency_cap.period"),
    ({"frequency_cap": {"max": 2, "period": "01h"}}, "frequency_cap.period"),
    ({"frequency_cap": {"max": 2, "period": "24H"}}, "frequency_cap.period"),
    ({"frequency_cap": {"max": 2, "period": "24h", "per": "site"}}, "frequency_cap.per"),
    ({"quiet_hour": QUIET}, "quiet_hour"),
    ({"vapid_public_key": "renamed"}, "vapid_public_key"),
    ([QUIET], "body"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES, ids=[f for _, f in BAD_BODIES])
async def test_bad_rule_is_refused_naming_the_field_and_changes_nothing(
    client: httpx.AsyncClient, site: Site, body: Any, field: str
) -> None:
    set_before = {
        "default_timezone": "America/St_Johns",
        "quiet_hours": QUIET,
        "frequency_cap": CAP,
    }
    before = (await patch(client, site, set_before)).json()
    # The good members beside a bad one are not written either.
    if isinstance(body, dict):
        body = {"default_timezone": "Asia/Tokyo", **body}
    refused(await patch(client, site, body), field)
    assert await get(client, site) == before


async def test_site_routes_need_the_api_key(client: httpx.AsyncClient, site: Site) -> None:
    for answer in (
        await client.get("/api/v1/site"),
        await client.patch("/api/v1/site", json={"quiet_hours": None}),
        await client.get("/api/v1/site", headers={"Authorization": "Bearer pgk_wrong"}),
    ):
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "unauthorized"


async def test_patch_body_that_is_not_json_or_too_large_is_refused(
    client: httpx.AsyncClient, site: Site
) -> None:
    broken = await client.patch(
        "/api/v1/site", content=b'{"quiet_hours": ', headers=site.admin_headers
    )
    assert (broken.status_code, broken.json()["error"]["code"]) == (400, "invalid_json")
    huge = await patch(client, site, {"default_timezone": "x" * 70_000})
    assert (huge.status_code, huge.json()["error"]["code"]) == (413, "body_too_large")
    assert (await get(client, site))["default_timezone"] == "UTC"
