""" "Send a test to me" against a real gateway and the local push service: an operator's
simulated browser (which holds its keys, so the test decrypts what it receives) subscribes
through the dashboard's route, the button sends to it and to nobody else of the site (neither
an ordinary subscriber nor another operator's browser), and the routes are guarded (login,
CSRF, an editor's own sites only)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest
import pytest_asyncio

from pushgate.testing import LocalPushService
from pushgate.testing.browser import SimulatedBrowser
from tests.conftest import Site, _gateway_factory, subscribe_all, wait_until_done
from tests.dashboard.conftest import DashboardGateway, Visitor, csrf_of, visit

QUIET_SECONDS = 0.5  # after the notification is done, a stray push would have arrived by now


# One push service and one gateway for the module (each gateway costs seconds to start), so
# the tests run on the module's event loop, which the push service lives on.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def push_service() -> AsyncIterator[LocalPushService]:
    async with LocalPushService() as service:
        yield service


@pytest.fixture(scope="module")
def dashboard_push(
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    push_service: LocalPushService,
) -> Iterator[DashboardGateway]:
    """A gateway on the real clock that may push to the local push service."""
    folder = tmp_path_factory.mktemp("send-test")
    for make in _gateway_factory(folder, request):
        gateway = make(push_service.host_port, PUSHGATE_TRUSTED_PROXIES="127.0.0.1")
        yield DashboardGateway(gateway)


async def subscribe_operator(
    visitor: Visitor, site_id: str, browser: SimulatedBrowser, token: str | None
) -> httpx.Response:
    """What dashboard/static/test_push.js does once the browser has subscribed."""
    headers = {} if token is None else {"X-CSRF-Token": token}
    return await visitor.http.post(
        f"/dashboard/sites/{site_id}/test-subscription",
        json={"subscription": browser.subscription()},
        headers=headers,
    )


async def operators_browsers(visitor: Visitor, site_id: str) -> int:
    page = await visitor.http.get(f"/dashboard/sites/{site_id}")
    return int(page.text.split('<span id="my-browsers">', 1)[1].split("<", 1)[0])


async def test_send_a_test_reaches_only_the_operators_own_browser(
    dashboard_push: DashboardGateway, push_service: LocalPushService
) -> None:
    dashboard = dashboard_push
    created = dashboard.add_site("send-test")
    site = Site(created["id"], created["api_key"], created["vapid_public_key"], dashboard.gateway)
    reader = push_service.new_browser(site.vapid_public_key)
    colleague_browser = push_service.new_browser(site.vapid_public_key)
    own_browser = push_service.new_browser(site.vapid_public_key)
    async with httpx.AsyncClient(base_url=dashboard.url, timeout=30) as client:
        await subscribe_all(client, site, [reader])
        # Quiet hours now (UTC, the site's default time zone) and a cap of one a day: neither
        # holds or drops the operator's own tests (two are sent below).
        now = datetime.now(UTC)
        quiet = {"start": f"{(now.hour + 23) % 24:02d}:00", "end": f"{(now.hour + 2) % 24:02d}:00"}
        rules = {"quiet_hours": quiet, "frequency_cap": {"max": 1, "period": "1d"}}
        patched = await client.patch("/api/v1/site", json=rules, headers=site.admin_headers)
        assert patched.status_code == 200, patched.text

    async with visit(dashboard) as me, visit(dashboard) as colleague:
        await me.logged_in(await dashboard.add_user("editor", site.id))
        await colleague.logged_in(await dashboard.add_user("admin"))
        overview = f"/dashboard/sites/{site.id}"
        token = csrf_of((await me.http.get(overview)).text)

        # Not subscribed yet: nothing is sent, and the page says what to do.
        answer = await me.http.post(f"{overview}/send-test", data={"csrf_token": token})
        assert answer.status_code == 303
        assert answer.headers["location"] == f"{overview}?test_sent=0#test-push"
        page = await me.http.get(f"{overview}?test_sent=0")
        assert "None of your browsers is subscribed to send-test, so nothing was sent." in page.text
        assert "Subscribe this browser" in page.text

        stored = await subscribe_operator(me, site.id, own_browser, token)
        assert stored.status_code == 201, stored.text
        assert stored.json()["browsers"] == 1
        again = await subscribe_operator(me, site.id, own_browser, token)  # the same endpoint
        assert again.json()["browsers"] == 1
        colleague_token = csrf_of((await colleague.http.get(overview)).text)
        theirs = await subscribe_operator(colleague, site.id, colleague_browser, colleague_token)
        assert theirs.status_code == 201
        assert await operators_browsers(me, site.id) == 1

        for _ in range(2):
            answer = await me.http.post(f"{overview}/send-test", data={"csrf_token": token})
            assert answer.headers["location"] == f"{overview}?test_sent=1#test-push"
        page = await me.http.get(f"{overview}?test_sent=1")
        assert "Sent to 1 of your browsers." in page.text

    messages = await own_browser.wait_for(2)
    for message in messages:
        assert message.decrypt_error is None
        shown = message.json()["notification"]
        assert shown["title"] == "Test from pushgate"
        assert "send-test" in shown["body"] and "from the dashboard" in shown["body"]
    async with httpx.AsyncClient(base_url=dashboard.url, timeout=30) as client:
        listed = await client.get("/api/v1/notifications", headers=site.admin_headers)
        notifications = listed.json()["data"]
        assert len(notifications) == 2
        for notification in notifications:
            done = await wait_until_done(client, site, notification["id"])
            assert done["counts"]["targeted"] == 1
    await asyncio.sleep(QUIET_SECONDS)
    assert reader.messages == [] and colleague_browser.messages == []
    assert len(own_browser.messages) == 2


async def test_an_endpoint_outside_the_allowlist_is_refused(
    dashboard_push: DashboardGateway,
) -> None:
    site = dashboard_push.add_site("send-test-allowlist")
    async with visit(dashboard_push) as me:
        await me.logged_in(await dashboard_push.add_user("admin"))
        token = csrf_of((await me.http.get(f"/dashboard/sites/{site['id']}")).text)
        answer = await me.http.post(
            f"/dashboard/sites/{site['id']}/test-subscription",
            json={"subscription": {"endpoint": "https://evil.example/push/1",
                                   "keys": {"p256dh": "x", "auth": "y"}}},
            headers={"X-CSRF-Token": token},
        )  # fmt: skip
        assert answer.status_code == 400
        assert answer.json()["error"] == "endpoint_not_allowed"
        assert await operators_browsers(me, site["id"]) == 0


async def test_routes_need_a_session_the_csrf_token_and_the_operators_own_site(
    dashboard_push: DashboardGateway, push_service: LocalPushService
) -> None:
    dashboard = dashboard_push
    mine = dashboard.add_site("send-test-mine")
    theirs = dashboard.add_site("send-test-theirs")
    browser = push_service.new_browser(theirs["vapid_public_key"])
    async with httpx.AsyncClient(base_url=dashboard.url, timeout=10) as anonymous:
        for path in ("test-subscription", "send-test"):
            answer = await anonymous.post(f"/dashboard/sites/{mine['id']}/{path}")
            assert answer.status_code == 303
            assert answer.headers["location"] == "/dashboard/login"
    async with visit(dashboard) as editor:
        await editor.logged_in(await dashboard.add_user("editor", mine["id"]))
        token = csrf_of((await editor.http.get(f"/dashboard/sites/{mine['id']}")).text)
        for wrong in (None, "wrong"):
            refused = await subscribe_operator(editor, mine["id"], browser, wrong)
            assert refused.status_code == 403
            data = {} if wrong is None else {"csrf_token": wrong}
            sent = await editor.http.post(f"/dashboard/sites/{mine['id']}/send-test", data=data)
            assert sent.status_code == 403
        assert await operators_browsers(editor, mine["id"]) == 0
        other = await subscribe_operator(editor, theirs["id"], browser, token)
        assert other.status_code == 404
        sent = await editor.http.post(
            f"/dashboard/sites/{theirs['id']}/send-test", data={"csrf_token": token}
        )
        assert sent.status_code == 404
    async with httpx.AsyncClient(base_url=dashboard.url, timeout=10) as client:
        listed = await client.get(
            "/api/v1/subscriptions", headers={"Authorization": f"Bearer {theirs['api_key']}"}
        )
    assert listed.json()["data"] == []
