"""A site's event hooks page (/dashboard/sites/{id}/event-hooks) over HTTP against a real
gateway on the test clock: a hook added with a generated secret shown once (and never again),
its attempts listed as a local receiver first fails and then takes the batch, a bad URL
refused beside the form, and the page guarded (CSRF, an editor's own sites only)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator

import httpx
import pytest

from pushgate.clock import TEST_CLOCK_ENV, FileClock
from tests.api.test_subscriptions import FCM, VALID_AUTH, VALID_P256DH
from tests.conftest import ORIGIN, _gateway_factory, free_port
from tests.dashboard.conftest import START, DashboardGateway, Visitor, visit
from tests.gateway.hook_receiver import hook_receiver

RECEIVER_PORT = free_port()
RECEIVER = f"127.0.0.1:{RECEIVER_PORT}"


@pytest.fixture(scope="module")
def hooks_dashboard(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[DashboardGateway]:
    folder = tmp_path_factory.mktemp("hook-pages")
    clock_file = folder / "clock"
    FileClock.write(clock_file, START)
    env = {
        TEST_CLOCK_ENV: str(clock_file),
        "PUSHGATE_TRUSTED_PROXIES": "127.0.0.1",
        "PUSHGATE_ALLOWED_HOOK_HOSTS": RECEIVER,
    }
    for make in _gateway_factory(folder, request):
        yield DashboardGateway(make(**env), clock_file)


def delete_paths(html: str) -> list[str]:
    return re.findall(r'action="(/dashboard/sites/[0-9a-f]+/event-hooks/[^"/]+/delete)"', html)


async def subscribe(dashboard: DashboardGateway, site_id: str, n: int) -> None:
    body = {"subscription": {"endpoint": f"{FCM}-hooks-{n}",
                             "keys": {"p256dh": VALID_P256DH, "auth": VALID_AUTH}}}  # fmt: skip
    async with httpx.AsyncClient(base_url=dashboard.url, timeout=10) as client:
        answer = await client.post(
            f"/v1/sites/{site_id}/subscriptions", json=body, headers={"Origin": ORIGIN}
        )
    assert answer.status_code == 201, answer.text


async def until(check: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not within 5 s"
        await asyncio.sleep(0.05)


async def shown_when(visitor: Visitor, page: str, text: str, seconds: float = 5.0) -> str:
    """The page once it shows `text` (within `seconds`)."""
    deadline = time.monotonic() + seconds
    while text not in (shown := (await visitor.http.get(page)).text):
        assert time.monotonic() < deadline, f"{page} did not show {text!r} within {seconds} s"
        await asyncio.sleep(0.05)
    return shown


async def test_add_a_hook_see_its_failed_and_retried_attempts_then_delete_it(
    hooks_dashboard: DashboardGateway,
) -> None:
    dashboard = hooks_dashboard
    site = dashboard.add_site("hooks-page")
    page = f"/dashboard/sites/{site['id']}/event-hooks"
    async with visit(dashboard) as visitor:
        await visitor.logged_in(await dashboard.add_user("editor", site["id"]))
        listing = await visitor.http.get(page)
        assert listing.status_code == 200 and 'id="no-hooks"' in listing.text
        assert 'aria-current="page">Event hooks</a>' in listing.text
        token = await visitor.csrf(page)

        form = {"url": f"http://{RECEIVER}/in", "events": ["subscribed", "clicked"], "secret": ""}
        refused = await visitor.http.post(page, data=form | {"csrf_token": "wrong"})
        assert refused.status_code == 403
        assert 'id="no-hooks"' in (await visitor.http.get(page)).text

        created = await visitor.http.post(page, data=form | {"csrf_token": token})
        assert created.status_code == 201, created.text
        found = re.search(r'<code id="hook-secret">([\w-]+)</code>', created.text)
        assert found and "It is shown only this once" in created.text
        secret = found.group(1)
        assert len(secret) >= 40  # generated: 32 random bytes

        async with hook_receiver(secret, RECEIVER_PORT) as receiver:
            receiver.fail_next = 1
            await subscribe(dashboard, site["id"], 1)
            await until(lambda: len(receiver.requests) == 1)
            # The attempt is written once the answer is in: the page shows it a moment later.
            failing = await shown_when(visitor, page, "Failing</strong>: next try at")
            assert "Failed: HTTP 500" in failing
            dashboard.advance(5)
            await until(lambda: len(receiver.taken) == 1)
        assert receiver.events("subscribed")[0]["type"] == "subscribed"
        assert all(r["signed"] for r in receiver.requests)  # with the secret shown once

        shown = await shown_when(visitor, page, "200 OK</td>")
        assert secret not in shown
        rows = re.findall(r"<tr class=\"(ok|failed)\">", shown)
        assert rows == ["ok", "failed"]  # the newest first
        assert "<dd>clicked, subscribed</dd>" in shown

        [delete] = delete_paths(shown)
        assert (await visitor.http.post(delete, data={"csrf_token": "wrong"})).status_code == 403
        done = await visitor.http.post(delete, data={"csrf_token": token})
        assert done.status_code == 303 and done.headers["location"] == page + "?deleted=1"
        after = await visitor.http.get(page + "?deleted=1")
        assert 'id="hook-deleted"' in after.text and 'id="no-hooks"' in after.text


async def test_a_bad_url_is_refused_beside_the_form_and_nothing_is_added(
    hooks_dashboard: DashboardGateway,
) -> None:
    dashboard = hooks_dashboard
    site = dashboard.add_site("hooks-refused")
    page = f"/dashboard/sites/{site['id']}/event-hooks"
    async with visit(dashboard) as visitor:
        await visitor.logged_in(await dashboard.add_user("admin"))
        token = await visitor.csrf(page)
        for url, says in (
            ("https://127.0.0.1:8443/in", "non-public address"),
            ("http://93.184.215.14/in", "must be https"),
        ):
            data = {"csrf_token": token, "url": url, "events": "clicked"}
            answer = await visitor.http.post(page, data=data)
            assert answer.status_code == 400 and says in answer.text
            assert 'aria-invalid="true"' in answer.text and 'role="alert"' in answer.text
        none = await visitor.http.post(
            page, data={"csrf_token": token, "url": f"http://{RECEIVER}/"}
        )
        assert none.status_code == 400 and "events must be a non-empty list" in none.text
        assert 'id="no-hooks"' in (await visitor.http.get(page)).text


async def test_an_editor_gets_404_for_another_sites_hooks(
    hooks_dashboard: DashboardGateway,
) -> None:
    dashboard = hooks_dashboard
    theirs = dashboard.add_site("hooks-theirs")
    mine = dashboard.add_site("hooks-mine")
    page = f"/dashboard/sites/{theirs['id']}/event-hooks"
    async with visit(dashboard) as owner:
        await owner.logged_in(await dashboard.add_user("editor", theirs["id"]))
        token = await owner.csrf(page)
        data = {"csrf_token": token, "url": f"http://{RECEIVER}/in", "events": "sent"}
        assert (await owner.http.post(page, data=data)).status_code == 201
        [delete] = delete_paths((await owner.http.get(page)).text)
    async with visit(dashboard) as other:
        await other.logged_in(await dashboard.add_user("editor", mine["id"]))
        token = await other.csrf(f"/dashboard/sites/{mine['id']}/event-hooks")
        assert (await other.http.get(page)).status_code == 404
        assert (await other.http.post(page, data=data | {"csrf_token": token})).status_code == 404
        assert (await other.http.post(delete, data={"csrf_token": token})).status_code == 404
    async with visit(dashboard) as owner_again:
        await owner_again.logged_in(await dashboard.add_user("editor", theirs["id"]))
        assert delete_paths((await owner_again.http.get(page)).text) == [delete]
