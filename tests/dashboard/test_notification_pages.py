"""The notification pages over HTTP against a real gateway, the local push service and simulated
browsers: the funnel's numbers and rates equal what the browsers reported (events posted with
the tokens of the decrypted payloads, as the service worker posts them), failures grouped by
push service and reason, a scheduled notification cancelled from its page (nothing goes out
when the clock passes its time), Send again, CSRF, and another site's notification → 404."""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from pushgate.testing import Fault, LocalPushService
from pushgate.testing.browser import SimulatedBrowser
from tests.conftest import NO_RATE_LIMITS, ORIGIN, Site, subscribe_all
from tests.dashboard.conftest import DashboardGateway, csrf_of, pushing_gateways, visit

pytestmark = pytest.mark.asyncio(loop_scope="module")
DONE_TIMEOUT_SECONDS = 30
RETRY_STEP_SECONDS = 60


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def push_service() -> AsyncIterator[LocalPushService]:
    async with LocalPushService() as service:
        yield service


@pytest.fixture(scope="module")
def dashboard(
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    push_service: LocalPushService,
) -> Iterator[DashboardGateway]:
    """One gateway for the module, sending to the local push service, on a test clock that
    starts at the real time (browsers' events are stamped with it too)."""
    folder = tmp_path_factory.mktemp("notification-pages")
    proxied = {"PUSHGATE_TRUSTED_PROXIES": "127.0.0.1", **NO_RATE_LIMITS}
    yield from pushing_gateways(folder, request, push_service.host_port, **proxied)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def api(dashboard: DashboardGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=dashboard.url, timeout=30) as client:
        yield client


async def _site(
    dashboard: DashboardGateway,
    api: httpx.AsyncClient,
    push_service: LocalPushService,
    name: str,
    subscribers: int,
) -> tuple[Site, list[SimulatedBrowser]]:
    created = dashboard.add_site(name)
    site = Site(created["id"], created["api_key"], created["vapid_public_key"], dashboard.gateway)
    browsers = [push_service.new_browser() for _ in range(subscribers)]
    await subscribe_all(api, site, browsers)
    return site, browsers


async def _send(api: httpx.AsyncClient, site: Site, body: dict[str, Any]) -> str:
    answer = await api.post("/api/v1/notifications", json=body, headers=site.admin_headers)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


async def _status(api: httpx.AsyncClient, site: Site, notification_id: str) -> dict[str, Any]:
    answer = await api.get(f"/api/v1/notifications/{notification_id}", headers=site.admin_headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def _until_done(
    api: httpx.AsyncClient,
    site: Site,
    notification_id: str,
    clock: DashboardGateway | None = None,
) -> dict[str, Any]:
    """Poll until done; with `clock`, move the test clock on a minute a poll (retries are due
    by the gateway's clock)."""
    deadline = time.monotonic() + DONE_TIMEOUT_SECONDS
    while (status := await _status(api, site, notification_id))["status"] != "done":
        assert time.monotonic() < deadline, f"not done: {status}"
        if clock is not None:
            clock.advance(RETRY_STEP_SECONDS)
        await asyncio.sleep(0.2)
    return status


async def _report(api: httpx.AsyncClient, browser: SimulatedBrowser, nid: str, kind: str) -> None:
    """What the service worker posts: the event token of the decrypted payload."""
    payloads = [m.json() for m in browser.messages]
    token = next(p["pushgate"]["token"] for p in payloads if p["pushgate"]["id"] == nid)
    answer = await api.post(
        "/v1/events", json={"token": token, "type": kind}, headers={"Origin": ORIGIN}
    )
    assert answer.status_code == 204, answer.text


def _text(fragment: str) -> str:
    """A fragment's text, tags dropped, spaces squeezed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _row(page: str, row_id: str) -> str:
    found = re.search(rf'<tr id="{row_id}">(.*?)</tr>', page, re.S)
    assert found, f"no row {row_id}"
    return _text(found.group(1))


def _table(page: str, table_id: str) -> list[str]:
    found = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert found, f"no table {table_id}"
    return [_text(r) for r in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)]


async def _editor(dashboard: DashboardGateway, *site_ids: str) -> str:
    return await dashboard.add_user("editor", *site_ids)


async def test_funnel_and_list_show_what_browsers_reported_with_exact_rates(
    dashboard: DashboardGateway, api: httpx.AsyncClient, push_service: LocalPushService
) -> None:
    site, browsers = await _site(dashboard, api, push_service, "funnel", 10)
    nid = await _send(api, site, {"title": "Big <sale> & more", "body": "Today only"})
    await _until_done(api, site, nid)
    for browser in browsers[:6]:
        await _report(api, browser, nid, "delivered")
    for browser in browsers[:3]:
        await _report(api, browser, nid, "clicked")
    await _report(api, browsers[5], nid, "dismissed")
    async with visit(dashboard) as visitor:
        await visitor.logged_in(await _editor(dashboard, site.id))
        page = await visitor.http.get(f"/dashboard/sites/{site.id}/notifications/{nid}")
        assert page.status_code == 200, page.text
        listing = await visitor.http.get(f"/dashboard/sites/{site.id}/notifications")
    text = page.text
    assert "Big &lt;sale&gt; &amp; more" in text and "<sale>" not in text
    assert _row(text, "funnel-targeted") == "Targeted 10"
    assert _row(text, "funnel-accepted") == "Accepted 10 100.0 % of targeted"
    assert _row(text, "funnel-delivered") == "Delivered 6 60.0 % of accepted"
    assert _row(text, "funnel-clicked") == "Clicked 3 50.0 % of delivered"
    assert _row(text, "funnel-dismissed") == "Dismissed 1 16.7 % of delivered"
    assert _row(text, "funnel-failed") == "Failed 0 0.0 % of targeted"
    assert _row(text, "funnel-cancelled") == "Cancelled 0 0.0 % of targeted"
    assert _text(re.search(r'<dd id="ctr">(.*?)</dd>', text, re.S).group(1)).startswith("30.0 %")  # type: ignore[union-attr]
    # The funnel chart and its table of numbers.
    assert 'id="funnel-chart"' in text and 'role="img"' in text
    funnel_numbers = _table(text, "funnel-chart-table")
    assert funnel_numbers[:4] == ["Targeted 10", "Accepted 10", "Delivered 6", "Clicked 3"]
    # Deliveries over time: every accepted and every reported delivery in some minute.
    minutes = [row.split() for row in _table(text, "timeline-chart-table")]
    assert sum(int(m[1]) for m in minutes) == 10 and sum(int(m[2]) for m in minutes) == 6
    assert all(re.fullmatch(r"\d\d:\d\d", m[0]) for m in minutes)
    assert 'id="no-failures"' in text
    assert "Today only" in _text(text)  # the content
    assert "Everyone" in _table_text(text, "content")
    assert f'href="/dashboard/sites/{site.id}/compose?from={nid}"' in text  # Duplicate
    assert f'action="/dashboard/sites/{site.id}/notifications/{nid}/cancel"' not in text  # done
    rows = _table(listing.text, "notifications")
    assert len(rows) == 1
    assert rows[0].endswith("Big <sale> & more done 10 6 3 30.0 %")
    assert "Pages of notifications" not in listing.text  # one page: no empty pager landmark


def _table_text(page: str, dl_id: str) -> str:
    found = re.search(rf'<dl class="facts" id="{dl_id}">(.*?)</dl>', page, re.S)
    assert found
    return _text(found.group(1))


async def test_failures_are_grouped_by_push_service_and_reason(
    dashboard: DashboardGateway, api: httpx.AsyncClient, push_service: LocalPushService
) -> None:
    site, browsers = await _site(dashboard, api, push_service, "failures", 6)
    for browser in browsers[:2]:
        push_service.inject(Fault(status=410, endpoint_id=browser.id))
    push_service.inject(Fault(status=403, endpoint_id=browsers[2].id))
    push_service.inject(Fault(status=500, times=1, endpoint_id=browsers[3].id))  # retried, then ok
    try:
        nid = await _send(api, site, {"title": "Faulty"})
        status = await _until_done(api, site, nid, clock=dashboard)
    finally:
        push_service.clear_faults()
    counts = status["counts"]
    assert (counts["accepted"], counts["gone"], counts["failed"]) == (3, 2, 1)
    async with visit(dashboard) as visitor:
        await visitor.logged_in(await dashboard.add_user("admin"))
        page = (await visitor.http.get(f"/dashboard/sites/{site.id}/notifications/{nid}")).text
        api_groups = (
            await api.get(f"/api/v1/notifications/{nid}/failures", headers=site.admin_headers)
        ).json()["data"]
    rows = _table(page, "failures")
    assert len(rows) == len(api_groups) == 2
    for group in api_groups:  # the same groups as the API's, the service named as on the page
        expected = f"other {group['status']} {group['reason']} {group['count']}"
        assert any(row.startswith(expected) for row in rows), (expected, rows)
    assert _row(page, "funnel-gone") == "Gone 2 33.3 % of targeted"
    assert _row(page, "funnel-failed") == "Failed 1 16.7 % of targeted"
    by_service = dict(row.rsplit(" ", 1) for row in _table(page, "failures-chart-table"))
    assert by_service == {"FCM": "0", "Mozilla": "0", "Apple": "0", "WNS": "0", "other": "3"}


async def test_scheduled_notification_cancelled_from_its_page_never_goes_out(
    dashboard: DashboardGateway, api: httpx.AsyncClient, push_service: LocalPushService
) -> None:
    site, browsers = await _site(dashboard, api, push_service, "cancel", 3)
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(dashboard.now() + 3600))
    nid = await _send(api, site, {"title": "Tomorrow's news", "send_at": later})
    path = f"/dashboard/sites/{site.id}/notifications/{nid}"
    async with visit(dashboard) as visitor:
        await visitor.logged_in(await _editor(dashboard, site.id))
        page = await visitor.http.get(path)
        assert f'action="{path}/cancel"' in page.text
        assert "At " in _table_text(page.text, "content")
        # When it goes out is beside its status, not only at the foot of the page.
        due = f"{later[:10]} {later[11:16]} UTC"
        assert f'<dt>Goes out</dt><dd id="due">At {due}</dd>' in page.text
        # Without the CSRF token: 403 and still scheduled.
        refused = await visitor.http.post(f"{path}/cancel", data={})
        assert refused.status_code == 403
        assert (await _status(api, site, nid))["status"] == "scheduled"
        done = await visitor.http.post(f"{path}/cancel", data={"csrf_token": csrf_of(page.text)})
        assert done.status_code == 303 and done.headers["location"] == f"{path}?done=cancelled"
        after = await visitor.http.get(done.headers["location"])
        assert "Cancelled: nothing more goes out." in after.text
        assert f'action="{path}/cancel"' not in after.text
        assert re.search(r'id="status">cancelled<', after.text)
    assert (await _status(api, site, nid))["status"] == "cancelled"
    dashboard.advance(3600 + 120)
    probe = await _send(api, site, {"title": "probe"})  # sent after the cancelled one was due
    await _until_done(api, site, probe)
    await asyncio.sleep(0.5)
    titles = [m.json()["notification"]["title"] for b in browsers for m in b.messages]
    assert titles == ["probe"] * 3
    assert (await _status(api, site, nid))["counts"]["accepted"] == 0


async def test_send_again_sends_the_same_content_to_the_same_audience(
    dashboard: DashboardGateway, api: httpx.AsyncClient, push_service: LocalPushService
) -> None:
    site, _ = await _site(dashboard, api, push_service, "again", 0)
    browsers = [push_service.new_browser() for _ in range(4)]
    await subscribe_all(api, site, browsers[:2], tags={"plan": "pro"})  # the audience below
    await subscribe_all(api, site, browsers[2:])
    body = {
        "title": "Pro tips",
        "body": "Tip 1",
        "url": "https://news.example/tips",
        "audience": {"tags": {"plan": "pro"}},
        "ttl": 600,
    }
    first = await _send(api, site, body)
    await _until_done(api, site, first)
    path = f"/dashboard/sites/{site.id}/notifications/{first}"
    async with visit(dashboard) as visitor:
        await visitor.logged_in(await _editor(dashboard, site.id))
        page = await visitor.http.get(path)
        late = await visitor.http.post(f"{path}/cancel", data={"csrf_token": csrf_of(page.text)})
        assert late.status_code == 409 and "is done: nothing is left to cancel" in late.text
        refused = await visitor.http.post(f"{path}/send-again", data={"csrf_token": "wrong"})
        assert refused.status_code == 403
        listing = await visitor.http.get(f"/dashboard/sites/{site.id}/notifications")
        assert len(_table(listing.text, "notifications")) == 1  # nothing was sent
        answer = await visitor.http.post(
            f"{path}/send-again", data={"csrf_token": csrf_of(page.text)}
        )
        assert answer.status_code == 303
        found = re.fullmatch(
            rf"/dashboard/sites/{site.id}/notifications/([0-9a-f]+)\?done=sent",
            answer.headers["location"],
        )
        assert found and found.group(1) != first
        second = found.group(1)
        new_page = await visitor.http.get(answer.headers["location"])
        assert "Sent again: this is the new notification." in new_page.text
    status = await _until_done(api, site, second)
    original = await _status(api, site, first)
    for field in ("audience", "notification", "ttl", "urgency", "topic"):
        if field == "notification":
            old = {k: v for k, v in original[field].items() if k != "timestamp"}
            assert {k: v for k, v in status[field].items() if k != "timestamp"} == old
        else:
            assert status[field] == original[field]
    assert status["counts"]["accepted"] == 2
    received = [m.json() for b in browsers for m in b.messages]
    assert sorted(p["pushgate"]["id"] for p in received) == sorted([first, first, second, second])
    assert {p["notification"]["title"] for p in received} == {"Pro tips"}
    assert {p["notification"]["navigate"] for p in received} == {"https://news.example/tips"}


async def test_another_sites_notification_is_404_for_an_editor_and_in_another_site_path(
    dashboard: DashboardGateway, api: httpx.AsyncClient, push_service: LocalPushService
) -> None:
    mine, _ = await _site(dashboard, api, push_service, "mine", 0)
    theirs, _ = await _site(dashboard, api, push_service, "theirs", 0)
    nid = await _send(api, theirs, {"title": "Secret plans"})
    async with visit(dashboard) as visitor:
        await visitor.logged_in(await _editor(dashboard, mine.id))
        csrf = await visitor.csrf(f"/dashboard/sites/{mine.id}/notifications")
        for path in (
            f"/dashboard/sites/{theirs.id}/notifications",
            f"/dashboard/sites/{theirs.id}/notifications/{nid}",
            f"/dashboard/sites/{mine.id}/notifications/{nid}",  # another site's, under mine
            f"/dashboard/sites/{mine.id}/notifications/0000",
        ):
            answer = await visitor.http.get(path)
            assert answer.status_code == 404, path
            assert "Secret plans" not in answer.text
        for action in ("cancel", "send-again"):
            for site_id in (mine.id, theirs.id):
                answer = await visitor.http.post(
                    f"/dashboard/sites/{site_id}/notifications/{nid}/{action}",
                    data={"csrf_token": csrf},
                )
                assert answer.status_code == 404, (site_id, action)
        bad_page = await visitor.http.get(f"/dashboard/sites/{mine.id}/notifications?before=x")
        assert bad_page.status_code == 400
    assert (await _status(api, theirs, nid))["status"] != "cancelled"


async def test_list_pages_newest_first(
    dashboard: DashboardGateway, api: httpx.AsyncClient, push_service: LocalPushService
) -> None:
    site, _ = await _site(dashboard, api, push_service, "paged", 0)
    for i in range(27):  # the page holds 25
        await _send(api, site, {"title": f"Number {i}"})
    async with visit(dashboard) as visitor:
        await visitor.logged_in(await _editor(dashboard, site.id))
        first = await visitor.http.get(f"/dashboard/sites/{site.id}/notifications")
        rows = _table(first.text, "notifications")
        assert len(rows) == 25 and "Number 26" in rows[0] and re.search(r"Number 2\b", rows[-1])
        older = re.search(r'href="([^"]+\?before=\d+)" rel="next"', first.text)
        assert older
        second = await visitor.http.get(html.unescape(older.group(1)))
        rows = _table(second.text, "notifications")
        assert ["Number 1" in rows[0], "Number 0" in rows[1], len(rows)] == [True, True, 2]
        assert 'rel="next"' not in second.text
        assert 'aria-label="Pages of notifications"' in first.text and ">Newest</a>" in second.text


async def test_ab_test_shows_counts_per_variant_and_the_winner(
    dashboard: DashboardGateway, api: httpx.AsyncClient, push_service: LocalPushService
) -> None:
    site, browsers = await _site(dashboard, api, push_service, "ab", 10)
    body = {
        "title": "Base",
        "variants": [{"title": "Plain A"}, {"title": "Bold B"}],
        "ab_test": {"sample_percent": 40, "winner_after": "10s", "metric": "clicked"},
    }
    nid = await _send(api, site, body)
    deadline = time.monotonic() + DONE_TIMEOUT_SECONDS
    while (await _status(api, site, nid))["counts"]["accepted"] < 4:  # 2 per variant
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    sample = [b for b in browsers if b.messages]
    bold = [b for b in sample if b.messages[0].json()["notification"]["title"] == "Bold B"]
    assert len(sample) == 4 and len(bold) == 2
    for browser in bold:
        await _report(api, browser, nid, "delivered")
        await _report(api, browser, nid, "clicked")
    path = f"/dashboard/sites/{site.id}/notifications/{nid}"
    async with visit(dashboard) as visitor:
        await visitor.logged_in(await _editor(dashboard, site.id))
        before = (await visitor.http.get(path)).text
        started = datetime.fromisoformat((await _status(api, site, nid))["created_at"])
        due = (started + timedelta(seconds=10)).strftime("%Y-%m-%d %H:%M UTC")  # winner_after
        assert f"No winner chosen yet: the gateway chooses it at {due}." in before
        assert "40 % of the audience split evenly across 2 variants" in before
        assert _table(before, "variants") == [
            "1 Plain A 2 2 0 0 0.0 % of accepted",
            "2 Bold B 2 2 2 2 100.0 % of accepted",
        ]
        dashboard.advance(20)
        while (await _status(api, site, nid))["status"] != "done":
            assert time.monotonic() < deadline + DONE_TIMEOUT_SECONDS
            await asyncio.sleep(0.1)
        after = (await visitor.http.get(path)).text
    assert (await _status(api, site, nid))["winner"] == 1
    assert "The winner is variant 2" in after
    assert _table(after, "variants")[1].startswith("2 (winner) Bold B")
    assert sum(len(b.messages) for b in browsers) == 10


async def test_send_again_to_a_deleted_segment_is_refused_with_the_reason(
    dashboard: DashboardGateway, api: httpx.AsyncClient, push_service: LocalPushService
) -> None:
    site, _ = await _site(dashboard, api, push_service, "segment-gone", 0)
    segment = {"name": "fans", "filter": {"field": "tags.topic", "op": "eq", "value": "f1"}}
    made = await api.post("/api/v1/segments", json=segment, headers=site.admin_headers)
    assert made.status_code == 201, made.text
    nid = await _send(api, site, {"title": "Race day", "audience": {"segment": "fans"}})
    await _until_done(api, site, nid)
    gone = await api.delete("/api/v1/segments/fans", headers=site.admin_headers)
    assert gone.status_code == 204, gone.text
    path = f"/dashboard/sites/{site.id}/notifications/{nid}"
    async with visit(dashboard) as visitor:
        await visitor.logged_in(await _editor(dashboard, site.id))
        page = await visitor.http.get(path)
        assert "Segment fans" in _table_text(page.text, "content")
        answer = await visitor.http.post(
            f"{path}/send-again", data={"csrf_token": csrf_of(page.text)}
        )
        assert answer.status_code == 400
        assert re.search(r'class="error" role="alert">[^<]*fans', answer.text)
        listing = await visitor.http.get(f"/dashboard/sites/{site.id}/notifications")
    assert len(_table(listing.text, "notifications")) == 1
