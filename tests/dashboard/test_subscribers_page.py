"""The Subscribers page over HTTP against a real gateway: the total, growth and churn of the
roll-ups, breakdowns with counts and shares, search by subscription id, external id, tag name
and name=value, paging, Delete (CSRF-checked, through the service DELETE /api/v1/subscriptions
uses, counted as unsubscribed), the CSV links, and an editor's 404 for another site."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from pushgate.clock import TEST_CLOCK_ENV, FileClock
from tests.api.test_subscriptions import FCM
from tests.api.test_subscriptions import body as subscription_body
from tests.conftest import NO_RATE_LIMITS, ORIGIN, Site, _gateway_factory
from tests.dashboard.conftest import DashboardGateway, csrf_of, visit

pytestmark = pytest.mark.asyncio(loop_scope="module")
MOZILLA = "https://updates.push.services.mozilla.com/wpush/v2/page"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.fixture(scope="module")
def dashboard(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[DashboardGateway]:
    """A gateway on a test clock that starts at the real time (subscriptions are stamped with
    the real time, the page's days with the clock)."""
    folder = tmp_path_factory.mktemp("subscribers-page")
    clock_file = folder / "clock"
    FileClock.write(clock_file, time.time())
    env = {TEST_CLOCK_ENV: str(clock_file), "PUSHGATE_TRUSTED_PROXIES": "127.0.0.1"}
    for make in _gateway_factory(folder, request):
        yield DashboardGateway(make(**env, **NO_RATE_LIMITS), clock_file)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def populated(dashboard: DashboardGateway) -> dict[str, Any]:
    """A site with five subscribers (3 Chrome on FCM, 2 Firefox on Mozilla), one of which
    then unsubscribes; and an admin."""
    created = dashboard.add_site("readers")
    site = Site(created["id"], created["api_key"], created["vapid_public_key"], dashboard.gateway)
    people = [
        (
            f"{FCM}-1",
            CHROME,
            {"language": "en-GB", "timezone": "Europe/London", "external_id": "=cmd"},
        ),
        (f"{FCM}-2", CHROME, {"language": "en-GB", "tags": {"plan": "pro", "topic": "sports"}}),
        (f"{FCM}-3", CHROME, {"language": "de-DE", "tags": {"plan": "free"}}),
        (f"{MOZILLA}-4", FIREFOX, {"language": "fr-FR", "external_id": "user-4"}),
        (f"{MOZILLA}-5", FIREFOX, {"language": "fr-FR"}),
    ]
    ids = []
    async with httpx.AsyncClient(base_url=dashboard.url, timeout=30) as api:
        for endpoint, agent, extra in people:
            answer = await api.post(
                site.subscriptions_url,
                json=subscription_body(endpoint, **extra),
                headers={"Origin": ORIGIN, "User-Agent": agent},
            )
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()["id"])
        gone = await api.request(
            "DELETE", site.subscriptions_url, json={"endpoint": f"{MOZILLA}-5"},
            headers={"Origin": ORIGIN},
        )  # fmt: skip
        assert gone.status_code == 204
    admin = await dashboard.add_user("admin")
    return {"site": site, "ids": ids, "admin": admin}


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _table(page: str, table_id: str) -> str:
    found = re.search(rf'<table id="{table_id}">(.*?)</table>', page, re.S)
    assert found, f"no table {table_id}"
    return _text(found.group(1))


def _listed(page: str) -> list[str]:
    return re.findall(r"<td><code>([0-9a-f]{32})</code></td>", page)


async def test_totals_growth_and_breakdowns(
    dashboard: DashboardGateway, populated: dict[str, Any]
) -> None:
    site = populated["site"]
    async with visit(dashboard) as visitor:
        await visitor.logged_in(populated["admin"])
        page = await visitor.http.get(f"/dashboard/sites/{site.id}/subscribers")
    assert page.status_code == 200, page.text
    text = page.text
    assert _text(re.search(r'id="total-subscribers">([^<]*)<', text).group(1)) == "4"  # type: ignore[union-attr]
    assert 'id="period-new">5<' in text
    assert 'id="period-unsubscribed">1<' in text
    assert 'id="period-gone">0<' in text
    for chart in ("subscribers-total", "subscribers-growth", "subscribers-churn"):
        assert f'id="{chart}' in text
    assert "Chrome 3 75.0 %" in _table(text, "breakdown-browser")
    assert "Firefox 1 25.0 %" in _table(text, "breakdown-browser")
    assert "FCM (Chrome, Edge) 3 75.0 %" in _table(text, "breakdown-push_service")
    assert "en-GB 2 50.0 %" in _table(text, "breakdown-language")
    assert "Europe/London 1 25.0 %" in _table(text, "breakdown-timezone")
    assert "Unknown 3 75.0 %" in _table(text, "breakdown-timezone")
    # No GeoIP country for anyone: each subscriber's country is its time zone's.
    assert "Unknown 3 75.0 % GB 1 25.0 %" in _table(text, "breakdown-country")
    assert f'href="/dashboard/sites/{site.id}/subscribers.csv"' in text
    assert f'href="/dashboard/sites/{site.id}/notifications.csv"' in text


async def test_search_by_id_external_id_tag_and_value(
    dashboard: DashboardGateway, populated: dict[str, Any]
) -> None:
    site, ids = populated["site"], populated["ids"]
    path = f"/dashboard/sites/{site.id}/subscribers"
    async with visit(dashboard) as visitor:
        await visitor.logged_in(populated["admin"])

        async def found(query: str) -> list[str]:
            page = await visitor.http.get(path, params={"q": query})
            assert page.status_code == 200, page.text
            return _listed(page.text)

        assert await found("") == ids[:4]
        assert await found(ids[2]) == [ids[2]]
        assert await found("user-4") == [ids[3]]
        assert await found("=cmd") == [ids[0]]
        assert await found("plan") == [ids[1], ids[2]]
        assert await found("plan=pro") == [ids[1]]
        assert await found("plan = free") == [ids[2]]
        assert await found("nobody") == []
        page = await visitor.http.get(path, params={"q": "nobody"})
        assert "No subscription matches “nobody”." in _text(page.text)


async def test_delete_needs_the_csrf_token_and_counts_as_unsubscribed(
    dashboard: DashboardGateway, populated: dict[str, Any]
) -> None:
    site, ids = populated["site"], populated["ids"]
    path = f"/dashboard/sites/{site.id}/subscribers"
    async with visit(dashboard) as visitor:
        await visitor.logged_in(populated["admin"])
        page = await visitor.http.get(path)
        delete = f"{path}/{ids[2]}/delete"
        assert f'action="{delete}"' in page.text
        refused = await visitor.http.post(delete, data={"csrf_token": "wrong"})
        assert refused.status_code == 403
        assert ids[2] in _listed((await visitor.http.get(path)).text)

        done = await visitor.http.post(delete, data={"csrf_token": csrf_of(page.text)})
        assert done.status_code == 303
        assert done.headers["location"] == f"{path}?deleted=1#list"
        after = await visitor.http.get(f"{path}?deleted=1")
        assert "The subscription was deleted." in after.text
        assert ids[2] not in _listed(after.text)
        assert 'id="period-unsubscribed">2<' in after.text
        assert "de-DE" not in _table(after.text, "breakdown-language")
        again = await visitor.http.post(delete, data={"csrf_token": csrf_of(page.text)})
        assert again.status_code == 404
    async with httpx.AsyncClient(base_url=dashboard.url) as api:
        listed = await api.get("/api/v1/subscriptions", headers=site.admin_headers)
    assert ids[2] not in {s["id"] for s in listed.json()["data"]}


async def test_the_list_is_paged(dashboard: DashboardGateway, populated: dict[str, Any]) -> None:
    created = dashboard.add_site("many")
    site = Site(created["id"], created["api_key"], created["vapid_public_key"], dashboard.gateway)
    async with httpx.AsyncClient(base_url=dashboard.url, timeout=30) as api:
        for i in range(55):
            answer = await api.post(
                site.subscriptions_url,
                json=subscription_body(f"{FCM}-many-{i}"),
                headers={"Origin": ORIGIN},
            )
            assert answer.status_code == 201
    async with visit(dashboard) as visitor:
        await visitor.logged_in(populated["admin"])
        first = await visitor.http.get(f"/dashboard/sites/{site.id}/subscribers")
        assert len(_listed(first.text)) == 50
        next_url = html.unescape(re.search(r'href="([^"]+)" rel="next"', first.text).group(1))  # type: ignore[union-attr]
        second = await visitor.http.get(f"/dashboard/sites/{site.id}/subscribers{next_url}")
        assert len(_listed(second.text)) == 5
        assert not set(_listed(first.text)) & set(_listed(second.text))
        assert 'rel="next"' not in second.text


async def test_csv_downloads_from_the_dashboard(
    dashboard: DashboardGateway, populated: dict[str, Any]
) -> None:
    site = populated["site"]
    async with visit(dashboard) as visitor:
        await visitor.logged_in(populated["admin"])
        answer = await visitor.http.get(f"/dashboard/sites/{site.id}/subscribers.csv")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/csv")
        lines = answer.text.splitlines()
        assert lines[0].startswith("id,external_id,created_at")
        assert any(",'=cmd," in line for line in lines[1:])  # escaped, not a formula
        notes = await visitor.http.get(f"/dashboard/sites/{site.id}/notifications.csv")
        assert notes.text.splitlines() == [notes.text.splitlines()[0]]  # a header, no rows


async def test_an_editor_gets_404_for_another_site(
    dashboard: DashboardGateway, populated: dict[str, Any]
) -> None:
    site, ids = populated["site"], populated["ids"]
    other = dashboard.add_site("elsewhere")
    editor = await dashboard.add_user("editor", other["id"])
    async with visit(dashboard) as visitor:
        await visitor.logged_in(editor)
        for path in ("subscribers", "subscribers.csv", "notifications.csv"):
            answer = await visitor.http.get(f"/dashboard/sites/{site.id}/{path}")
            assert answer.status_code == 404, path
        token = await visitor.csrf(f"/dashboard/sites/{other['id']}/subscribers")
        refused = await visitor.http.post(
            f"/dashboard/sites/{site.id}/subscribers/{ids[0]}/delete", data={"csrf_token": token}
        )
        assert refused.status_code == 404
    async with visit(dashboard) as anonymous:
        answer = await anonymous.http.get(f"/dashboard/sites/{site.id}/subscribers")
        assert answer.status_code == 303
