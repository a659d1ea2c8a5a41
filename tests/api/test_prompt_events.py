"""`POST /v1/sites/{id}/prompt-events` and prompt variants over HTTP against a real gateway: CORS
for the site's own origins only, the body checked (events, variants, size), a rate limit per
client, each event one daily counter; variants set with `PATCH /api/v1/site` and served in the
site config ("default" when a site has none)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from pushgate.clock import TEST_CLOCK_ENV, FileClock
from pushgate.store import open_store
from pushgate.store.prompt_rows import PromptEventCount
from tests.conftest import ORIGIN, Gateway, Site, _gateway_factory, site_of

NOW = datetime(2026, 12, 2, 23, 30, tzinfo=UTC).timestamp()
RATE_PER_MINUTE = 30
_addresses = itertools.count(1)
VARIANTS = [
    {
        "id": "calm",
        "text": "Get the morning brief?",
        "accept": "Yes",
        "dismiss": "No",
        "weight": 30,
    },
    {"text": "Breaking news as it happens?", "weight": 70},  # id, labels: the defaults
]


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Gateway]:
    folder = tmp_path_factory.mktemp("prompt-events")
    clock_file = folder / "clock"
    FileClock.write(clock_file, NOW)
    for make in _gateway_factory(folder, request):
        yield make(
            **{
                TEST_CLOCK_ENV: str(clock_file),
                "PUSHGATE_TRUSTED_PROXIES": "127.0.0.1",
                "PUSHGATE_RATE_LIMIT_PER_CLIENT": str(RATE_PER_MINUTE),
            }
        )


@pytest.fixture
def site(gateway: Gateway, request: pytest.FixtureRequest) -> Site:
    return site_of(gateway, name=request.node.name[:100])


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    # Each test from a client address of its own (TEST-NET-3), so rate limits stay per test.
    address = f"203.0.113.{next(_addresses)}"
    headers = {"X-Forwarded-For": address}
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30, headers=headers) as http:
        yield http


async def report(
    client: httpx.AsyncClient, site: Site, body: Any, origin: str | None = ORIGIN
) -> httpx.Response:
    headers = {"Origin": origin} if origin else {}
    return await client.post(f"/v1/sites/{site.id}/prompt-events", json=body, headers=headers)


async def counts(gateway: Gateway, site: Site) -> list[PromptEventCount]:
    async with open_store(gateway.database) as store:
        return await store.prompt_event_counts(site.id, "2000-01-01", "2100-01-01")


async def test_events_are_counted_per_day_variant_and_event_with_cors(
    gateway: Gateway, client: httpx.AsyncClient, site: Site
) -> None:
    for event in ("shown", "shown", "shown", "dismissed", "accepted", "granted", "denied"):
        answer = await report(client, site, {"event": event, "variant": "default"})
        assert answer.status_code == 204, answer.text
        assert answer.headers["access-control-allow-origin"] == ORIGIN
    day = "2026-12-02"  # the test clock's UTC day
    assert await counts(gateway, site) == [
        PromptEventCount(day, "default", "accepted", 1),
        PromptEventCount(day, "default", "denied", 1),
        PromptEventCount(day, "default", "dismissed", 1),
        PromptEventCount(day, "default", "granted", 1),
        PromptEventCount(day, "default", "shown", 3),
    ]


async def test_preflight_allows_the_sites_origin_and_refuses_another(
    client: httpx.AsyncClient, site: Site
) -> None:
    url = f"/v1/sites/{site.id}/prompt-events"
    allowed = await client.options(url, headers={"Origin": ORIGIN})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in allowed.headers["access-control-allow-methods"]
    other = await client.options(url, headers={"Origin": "https://evil.example"})
    assert other.status_code == 403
    assert "access-control-allow-origin" not in other.headers


async def test_another_origin_or_none_is_refused_and_nothing_counted(
    gateway: Gateway, client: httpx.AsyncClient, site: Site
) -> None:
    body = {"event": "shown", "variant": "default"}
    foreign = await report(client, site, body, origin="https://evil.example")
    assert foreign.status_code == 403
    assert foreign.json()["error"]["code"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in foreign.headers
    assert (await report(client, site, body, origin=None)).status_code == 403
    missing = await client.post(
        "/v1/sites/0000000000000000/prompt-events", json=body, headers={"Origin": ORIGIN}
    )
    assert missing.status_code == 404
    assert await counts(gateway, site) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event": "clicked", "variant": "default"}, "event"),
        ({"variant": "default"}, "event"),
        ({"event": "shown", "variant": "b"}, "variant"),
        ({"event": "shown", "variant": 3}, "variant"),
        ({"event": "shown"}, "variant"),
        ({"event": "shown", "variant": "default", "extra": 1}, "extra"),
        (["shown"], "body"),
    ],
)
async def test_invalid_events_are_refused_with_400_and_cors(
    gateway: Gateway, client: httpx.AsyncClient, site: Site, body: Any, field: str
) -> None:
    answer = await report(client, site, body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_request"
    assert answer.json()["error"]["message"].startswith(field + " ")
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    assert await counts(gateway, site) == []


async def test_a_large_body_is_refused_with_413(client: httpx.AsyncClient, site: Site) -> None:
    answer = await report(client, site, {"event": "shown", "variant": "x" * 1000})
    assert answer.status_code == 413
    assert answer.headers["access-control-allow-origin"] == ORIGIN


async def test_a_client_over_the_rate_is_refused_with_429(
    gateway: Gateway, client: httpx.AsyncClient, site: Site
) -> None:
    body = {"event": "shown", "variant": "default"}
    answers = [await report(client, site, body) for _ in range(RATE_PER_MINUTE + 5)]
    assert [a.status_code for a in answers] == [204] * RATE_PER_MINUTE + [429] * 5
    assert answers[-1].json()["error"]["code"] == "rate_limited"
    assert answers[-1].headers["access-control-allow-origin"] == ORIGIN  # the snippet can read it
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert (await counts(gateway, site))[0].count == RATE_PER_MINUTE


async def test_variants_set_by_patch_are_served_and_counted_and_others_refused(
    gateway: Gateway, client: httpx.AsyncClient, site: Site
) -> None:
    config = (await client.get(f"/v1/sites/{site.id}/config", headers={"Origin": ORIGIN})).json()
    assert config["prompt_variants"] == [
        {"id": "default", "text": None, "accept": None, "dismiss": None, "weight": 100}
    ]
    assert config["prompt_events_url"].endswith(f"/v1/sites/{site.id}/prompt-events")
    patched = await client.patch(
        "/api/v1/site", json={"prompt_variants": VARIANTS}, headers=site.admin_headers
    )
    assert patched.status_code == 200, patched.text
    expected = [
        VARIANTS[0],
        {
            "id": "a",
            "text": VARIANTS[1]["text"],
            "accept": "Allow",
            "dismiss": "Not now",
            "weight": 70,
        },
    ]
    assert patched.json()["prompt_variants"] == expected
    assert (await client.get("/api/v1/site", headers=site.admin_headers)).json()[
        "prompt_variants"
    ] == expected
    config = (await client.get(f"/v1/sites/{site.id}/config", headers={"Origin": ORIGIN})).json()
    assert config["prompt_variants"] == expected
    assert (await report(client, site, {"event": "shown", "variant": "a"})).status_code == 204
    assert (await report(client, site, {"event": "shown", "variant": "default"})).status_code == 400
    assert [(c.variant_id, c.count) for c in await counts(gateway, site)] == [("a", 1)]
    cleared = await client.patch(
        "/api/v1/site", json={"prompt_variants": []}, headers=site.admin_headers
    )
    assert cleared.json()["prompt_variants"] == []


@pytest.mark.parametrize(
    ("variants", "field"),
    [
        ([{"text": "x"}] * 5, "prompt_variants"),
        ({"text": "x"}, "prompt_variants"),
        ([{"text": ""}], "prompt_variants[0].text"),
        ([{"text": "x", "weight": 0}], "prompt_variants[0].weight"),
        ([{"text": "x", "weight": 101}], "prompt_variants[0].weight"),
        ([{"text": "x", "weight": True}], "prompt_variants[0].weight"),
        ([{"text": "x", "accept": "y" * 41}], "prompt_variants[0].accept"),
        ([{"text": "x", "id": "default"}], "prompt_variants[0].id"),
        ([{"text": "x", "id": "Has Space"}], "prompt_variants[0].id"),
        ([{"text": "x", "id": "a"}, {"text": "y", "id": "a"}], "prompt_variants[1].id"),
        ([{"text": "x", "colour": "red"}], "prompt_variants[0].colour"),
    ],
)
async def test_invalid_variants_are_refused_and_nothing_changes(
    client: httpx.AsyncClient, site: Site, variants: Any, field: str
) -> None:
    body = {"prompt_variants": variants, "name": "renamed-by-a-refused-patch"}
    answer = await client.patch("/api/v1/site", json=body, headers=site.admin_headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["message"].startswith(field + " "), answer.text
    after = (await client.get("/api/v1/site", headers=site.admin_headers)).json()
    assert after["prompt_variants"] == [] and after["name"] != body["name"]


def test_the_day_is_the_clocks_utc_day(tmp_path: Path) -> None:
    from pushgate.prompt_variants import day_of

    assert day_of(NOW) == "2026-12-02"
    assert day_of(NOW + 3600) == "2026-12-03"  # 00:30 UTC the next day
