"""The stats API and the CSV exports against a real gateway, the local push service and
simulated browsers: after a real send with subscribes, unsubscribes, a gone answer and browser
events, the series (day and hour) equal what the notification's counters say; from/to/interval
are validated with clear 400s; the exports stream a header row and escape formulas; and the
retention job, driven by the test clock, prunes old per-delivery rows while the counters and
the roll-ups stay as they were."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio

from pushgate.testing import LocalPushService
from pushgate.testing.browser import SimulatedBrowser
from tests.conftest import NO_RATE_LIMITS, ORIGIN, Site, subscribe_all
from tests.dashboard.conftest import DashboardGateway, pushing_gateways

pytestmark = pytest.mark.asyncio(loop_scope="module")
DAY = 86_400
COUNTERS = ("accepted", "delivered", "clicked", "dismissed", "failed", "gone")
ARTICLE = "https://news.example/articles/late-winner"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def push_service() -> AsyncIterator[LocalPushService]:
    async with LocalPushService() as service:
        yield service


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    push_service: LocalPushService,
) -> Iterator[DashboardGateway]:
    """One gateway for the module, on a test clock that starts at the real time."""
    folder = tmp_path_factory.mktemp("stats")
    yield from pushing_gateways(folder, request, push_service.host_port, **NO_RATE_LIMITS)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def api(gateway: DashboardGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        yield client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sent(
    gateway: DashboardGateway, api: httpx.AsyncClient, push_service: LocalPushService
) -> dict[str, Any]:
    """Six subscribers; one unsubscribes in its browser, one is deleted over the API, one
    answers 410; the rest get a notification; two report it delivered, one clicks."""
    created = gateway.add_site("stats")
    site = Site(created["id"], created["api_key"], created["vapid_public_key"], gateway.gateway)
    browsers = [push_service.new_browser() for _ in range(6)]
    ids = await subscribe_all(api, site, browsers, external_id="@crm-user")
    leaving = await api.request(
        "DELETE",
        site.subscriptions_url,
        json={"endpoint": browsers[0].endpoint},
        headers={"Origin": ORIGIN},
    )
    assert leaving.status_code == 204, leaving.text
    deleted = await api.delete(f"/api/v1/subscriptions/{ids[1]}", headers=site.admin_headers)
    assert deleted.status_code == 204, deleted.text
    push_service.unsubscribe(browsers[2])
    body = {"title": '=HYPERLINK("https://evil.example")', "body": "Hi", "url": ARTICLE}
    answer = await api.post("/api/v1/notifications", json=body, headers=site.admin_headers)
    assert answer.status_code == 202, answer.text
    nid = answer.json()["id"]
    counts = await _until_done(api, site, nid)
    await push_service.wait_for_total(3)
    for browser, kinds in [(browsers[3], ["delivered", "clicked"]), (browsers[4], ["delivered"])]:
        for kind in kinds:
            await _report(api, browser, nid, kind)
    status = await api.get(f"/api/v1/notifications/{nid}", headers=site.admin_headers)
    return {"site": site, "id": nid, "counts": status.json()["counts"], "first": counts}


async def _until_done(api: httpx.AsyncClient, site: Site, nid: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        answer = await api.get(f"/api/v1/notifications/{nid}", headers=site.admin_headers)
        if answer.json()["status"] == "done":
            return dict(answer.json()["counts"])
        assert time.monotonic() < deadline, answer.text
        await asyncio.sleep(0.1)


async def _report(api: httpx.AsyncClient, browser: SimulatedBrowser, nid: str, kind: str) -> None:
    payloads = [m.json() for m in browser.messages]
    token = next(p["pushgate"]["token"] for p in payloads if p["pushgate"]["id"] == nid)
    answer = await api.post(
        "/v1/events", json={"token": token, "type": kind}, headers={"Origin": ORIGIN}
    )
    assert answer.status_code == 204, answer.text


def _day(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")


async def _stats(api: httpx.AsyncClient, site: Site, kind: str, **params: str) -> Any:
    answer = await api.get(f"/api/v1/stats/{kind}", params=params, headers=site.admin_headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _summed(series: list[dict[str, Any]], names: tuple[str, ...]) -> dict[str, int]:
    return {name: sum(point[name] for point in series) for name in names}


async def test_series_equal_the_counters_after_a_real_send(
    sent: dict[str, Any], api: httpx.AsyncClient, gateway: DashboardGateway
) -> None:
    site, counts = sent["site"], sent["counts"]
    assert {n: counts[n] for n in COUNTERS} == {
        "accepted": 3,
        "delivered": 2,
        "clicked": 1,
        "dismissed": 0,
        "failed": 0,
        "gone": 1,
    }
    today = _day(gateway.now())
    for interval in ("day", "hour"):
        notes = await _stats(api, site, "notifications", **{"from": today, "interval": interval})
        assert notes["interval"] == interval
        assert _summed(notes["series"], COUNTERS) == {n: counts[n] for n in COUNTERS}
        subs = await _stats(api, site, "subscribers", **{"from": today, "interval": interval})
        changes = _summed(subs["series"], ("new", "unsubscribed", "gone", "net"))
        assert changes == {"new": 6, "unsubscribed": 2, "gone": 1, "net": 3}
        assert subs["series"][-1]["total"] == 3
        assert all(p["t"].endswith(":00:00Z") for p in subs["series"])
    days = await _stats(api, site, "subscribers")  # default: the last 30 days up to now
    assert len(days["series"]) == 30
    assert days["series"][-1]["t"] == today + "T00:00:00Z"
    assert days["series"][-1]["total"] == 3
    assert days["series"][0]["total"] == 0


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"interval": "week"}, "interval must be day or hour"),
        ({"from": "yesterday"}, "from must be an ISO 8601 date or time"),
        ({"to": "2026-13-01"}, "to must be an ISO 8601"),
        ({"from": "2026-12-02", "to": "2026-12-01"}, "from must be before to"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "at most 732 days apart"),
        ({"from": "2026-10-01", "to": "2026-12-01", "interval": "hour"}, "at most 31 days"),
        ({"since": "2026-12-01"}, "unknown query parameter 'since'"),
    ],
)
async def test_a_bad_range_is_a_clear_400(
    sent: dict[str, Any], api: httpx.AsyncClient, params: dict[str, str], words: str
) -> None:
    for kind in ("subscribers", "notifications"):
        answer = await api.get(
            f"/api/v1/stats/{kind}", params=params, headers=sent["site"].admin_headers
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "invalid_request"
        assert words in answer.json()["error"]["message"]


async def test_stats_and_exports_need_the_api_key(api: httpx.AsyncClient) -> None:
    for path in (
        "/api/v1/stats/subscribers",
        "/api/v1/stats/notifications",
        "/api/v1/notifications.csv",
        "/api/v1/subscriptions.csv",
    ):
        answer = await api.get(path)
        assert answer.status_code == 401, path
        wrong = await api.get(path, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401, path


async def test_csv_exports_have_a_header_and_escape_formulas(
    sent: dict[str, Any], api: httpx.AsyncClient
) -> None:
    site = sent["site"]
    answer = await api.get("/api/v1/notifications.csv", headers=site.admin_headers)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0][:4] == ["id", "created_at", "status", "title"]
    (row,) = rows[1:]
    record = dict(zip(rows[0], row, strict=True))
    assert record["id"] == sent["id"]
    assert record["title"] == '\'=HYPERLINK("https://evil.example")'  # shown, never run
    assert (record["accepted"], record["clicked"], record["gone"]) == ("3", "1", "1")
    assert record["url"] == ARTICLE  # stored as the payload's "navigate"

    answer = await api.get("/api/v1/subscriptions.csv", headers=site.admin_headers)
    assert answer.status_code == 200
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0][:3] == ["id", "external_id", "created_at"]
    assert len(rows) == 1 + 3
    assert {r[1] for r in rows[1:]} == {"'@crm-user"}


async def test_retention_prunes_old_delivery_rows_and_keeps_counts_and_rollups(
    sent: dict[str, Any], api: httpx.AsyncClient, gateway: DashboardGateway
) -> None:
    site, nid = sent["site"], sent["id"]
    headers = site.admin_headers
    failures = f"/api/v1/notifications/{nid}/failures"
    assert (await api.get(failures, headers=headers)).json()["data"]  # the gone delivery's row
    start = _day(gateway.now())
    before = await _stats(api, site, "notifications", **{"from": start})

    gateway.advance(31 * DAY)  # past the default retention of 30 days
    deadline = time.monotonic() + 20
    while (await api.get(failures, headers=headers)).json()["data"]:
        assert time.monotonic() < deadline, "the per-delivery rows were not pruned"
        await asyncio.sleep(0.2)

    status = await api.get(f"/api/v1/notifications/{nid}", headers=headers)
    assert status.json()["counts"] == sent["counts"]
    after = await _stats(api, site, "notifications", **{"from": start})
    assert _summed(after["series"][: len(before["series"])], COUNTERS) == _summed(
        before["series"], COUNTERS
    )
    subs = await _stats(api, site, "subscribers")
    assert subs["series"][-1]["total"] == 3
