"""Issue #12's whole journey in one Chromium against one real gateway (on the test clock) and
the local push service: log in, create a site, copy its embed code, subscribe simulated
browsers through the public subscribe route, compose with the previews, check the audience
count against `POST /api/v1/audiences/count`, send, let the browsers decrypt the message and
report `delivered` and `clicked` as the service worker does, read those numbers on the funnel,
then schedule one, cancel it from its page and move the clock past its time: nothing arrives.
Every page is checked by axe-core (no serious or critical violation) and by its own
Content-Security-Policy, and saved as a screenshot under artifacts/browser/journey-*.png."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from pushgate.testing import LocalPushService
from pushgate.testing.browser import SimulatedBrowser
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, csp_violations, require_binary
from tests.browser.test_dashboard import axe_source as axe_source  # the fixture, shared
from tests.browser.test_dashboard import check_accessibility
from tests.conftest import NO_RATE_LIMITS
from tests.dashboard.conftest import PASSWORD, DashboardGateway, pushing_gateways

pytestmark = pytest.mark.asyncio(loop_scope="module")
ORIGIN = "https://dailyplanet.example"
SPORT, OTHER = 6, 3  # subscribers tagged section=sport, and the rest
DELIVERED, CLICKED = 4, 2  # of the sport audience: browsers that report each
SCHEDULE_AHEAD_SECONDS = 3600
DONE_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.2


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
    """The gateway, pushing to the local push service, on a test clock that starts at the real
    time (the browser's own clock fills in the composer's date)."""
    folder = tmp_path_factory.mktemp("journey")
    yield from pushing_gateways(folder, request, push_service.host_port, **NO_RATE_LIMITS)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium() -> AsyncIterator[Browser]:
    require_binary(CHROMIUM, "chromium")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def _subscribe(
    api: httpx.AsyncClient, site_id: str, browsers: list[SimulatedBrowser], tags: dict[str, str]
) -> None:
    """What the snippet posts for each browser, from the site's own origin."""
    for browser in browsers:
        answer = await api.post(
            f"/v1/sites/{site_id}/subscriptions",
            json={"subscription": browser.subscription(), "tags": tags},
            headers={"Origin": ORIGIN},
        )
        assert answer.status_code == 201, answer.text


async def _report(api: httpx.AsyncClient, browser: SimulatedBrowser, kind: str) -> None:
    """What the service worker posts: the event token of the payload it decrypted."""
    token = browser.messages[0].json()["pushgate"]["token"]
    answer = await api.post(
        "/v1/events", json={"token": token, "type": kind}, headers={"Origin": ORIGIN}
    )
    assert answer.status_code == 204, answer.text


async def _settled(api: httpx.AsyncClient, key: str, nid: str) -> dict[str, Any]:
    """The notification once done, with the browsers' reports counted."""
    deadline = time.monotonic() + DONE_TIMEOUT_SECONDS
    while True:
        answer = await api.get(
            f"/api/v1/notifications/{nid}", headers={"Authorization": f"Bearer {key}"}
        )
        status = dict(answer.json())
        counts = status["counts"]
        if status["status"] == "done" and (counts["delivered"], counts["clicked"]) == (
            DELIVERED,
            CLICKED,
        ):
            return status
        assert time.monotonic() < deadline, f"not settled: {status}"
        await asyncio.sleep(POLL_SECONDS)


def _local_input(epoch: float) -> str:
    """A datetime-local value, read in UTC (the Time zone field below)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M")


async def _checked(page: Page, axe: str, name: str) -> None:
    await check_accessibility(page, axe, f"journey-{name}")


async def test_operator_journey_from_login_to_a_cancelled_schedule(
    chromium: Browser,
    dashboard: DashboardGateway,
    push_service: LocalPushService,
    axe_source: str,
) -> None:
    email = await dashboard.add_user("admin")
    url = dashboard.url
    context = await chromium.new_context(viewport={"width": 1200, "height": 900})
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    page = await context.new_page()
    blocked = csp_violations(page)

    # Log in.
    await page.goto(url + "/dashboard/")
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    await _checked(page, axe_source, "login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Sites")).to_be_visible()
    await _checked(page, axe_source, "sites-empty")

    # Create a site and copy its embed code.
    await page.get_by_role("link", name="Create a site").click()
    await expect(page.get_by_role("heading", name="New site")).to_be_visible()
    await _checked(page, axe_source, "site-new")
    await page.get_by_label("Name").fill("Daily Planet")
    await page.get_by_label("Origins").fill(ORIGIN)
    await page.get_by_role("button", name="Create site").click()
    await expect(page.get_by_role("heading", name="Daily Planet created")).to_be_visible()
    key = (await page.locator("#api-key").text_content() or "").strip()
    site_id = (await page.locator("#site-id").text_content() or "").strip()
    assert re.fullmatch(r"pgk_[\w-]{43}", key) and re.fullmatch(r"[0-9a-f]{16}", site_id)
    await page.get_by_role("button", name="Copy the script tag").click()
    await expect(page.get_by_role("button", name="Copied")).to_be_visible()
    copied = await page.evaluate("navigator.clipboard.readText()")
    script_tag = f'<script src="{url}/static/pushgate.js" data-site="{site_id}" async></script>'
    assert copied.startswith(script_tag), copied
    await _checked(page, axe_source, "site-created")
    await page.get_by_role("link", name="Go to the site's page").click()
    await expect(page.get_by_role("heading", name="Daily Planet", exact=True)).to_be_visible()
    await _checked(page, axe_source, "site")

    # Simulated subscribers, through the public subscribe route as the snippet does.
    sport = [push_service.new_browser() for _ in range(SPORT)]
    other = [push_service.new_browser() for _ in range(OTHER)]
    async with httpx.AsyncClient(base_url=url, timeout=30) as api:
        await _subscribe(api, site_id, sport, {"section": "sport"})
        await _subscribe(api, site_id, other, {"section": "weather"})
        audience = {"tags": {"section": "sport"}}
        counted = await api.post(
            "/api/v1/audiences/count",
            json={"audience": audience},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert counted.status_code == 200, counted.text
        api_count = counted.json()["count"]
        assert api_count == SPORT

        # Compose with the previews; the count shown is the API's.
        site_nav = page.get_by_role("navigation", name="Daily Planet")
        await site_nav.get_by_role("link", name="Compose").click()
        await expect(page.get_by_role("heading", name="Compose")).to_be_visible()
        await expect(page.locator("#count-value")).to_have_text(str(SPORT + OTHER))
        await _checked(page, axe_source, "compose")
        await page.get_by_label("Title", exact=True).fill("Metropolis wins the cup")
        await page.get_by_label("Body", exact=True).fill("Extra! Read the match report.")
        await page.get_by_label("URL", exact=True).fill(ORIGIN + "/sport/cup-final")
        for preview in ("#preview-windows", "#preview-macos", "#preview-android"):
            await expect(page.locator(f"{preview} .title")).to_have_text("Metropolis wins the cup")
            await expect(page.locator(f"{preview} .body")).to_have_text(
                "Extra! Read the match report."
            )
        await expect(page.locator("#preview-windows")).to_contain_text("dailyplanet.example")
        await page.get_by_label("Tags", exact=True).check()
        await page.get_by_label("Tags to match").fill("section=sport")
        await expect(page.locator("#count-value")).to_have_text(str(api_count))
        await _checked(page, axe_source, "compose-filled")

        # Send; the sport browsers decrypt it, some report delivered and fewer clicked.
        await page.get_by_role("button", name="Send", exact=True).click()
        await page.wait_for_url(re.compile(rf"/dashboard/sites/{site_id}/notifications/\w+$"))
        nid = page.url.rsplit("/", 1)[1]
        await expect(
            page.get_by_role("heading", name="Notification: Metropolis wins the cup")
        ).to_be_visible()
        for browser in sport:
            (message,) = await browser.wait_for(1, timeout=DONE_TIMEOUT_SECONDS)
            payload = message.json()
            assert payload["notification"]["title"] == "Metropolis wins the cup"
            assert payload["pushgate"]["id"] == nid
        assert [len(b.messages) for b in other] == [0] * OTHER
        for browser in sport[:DELIVERED]:
            await _report(api, browser, "delivered")
        for browser in sport[:CLICKED]:
            await _report(api, browser, "clicked")
        await _settled(api, key, nid)

        # The funnel shows exactly those numbers.
        await page.reload()
        rows = {
            "targeted": rf"Targeted\s+{SPORT}\b",
            "accepted": rf"Accepted\s+{SPORT}\s+100.0 %\s+of targeted",
            "delivered": rf"Delivered\s+{DELIVERED}\s+66.7 %\s+of accepted",
            "clicked": rf"Clicked\s+{CLICKED}\s+50.0 %\s+of delivered",
        }
        for step, pattern in rows.items():
            await expect(page.locator(f"#funnel-{step}")).to_have_text(re.compile(pattern))
        await expect(page.locator("#status")).to_have_text("done")
        await _checked(page, axe_source, "notification")
        await site_nav.get_by_role("link", name="Notifications").click()
        await expect(page.locator("#notifications tbody tr")).to_have_count(1)
        await expect(page.locator("#notifications tbody tr")).to_contain_text(
            re.compile(rf"Metropolis wins the cup\s+done\s+{SPORT}\s+{DELIVERED}\s+{CLICKED}")
        )
        await _checked(page, axe_source, "notifications")

        # A scheduled one, cancelled from its page: nothing arrives once its time has passed.
        due = (dashboard.now() + SCHEDULE_AHEAD_SECONDS) // 60 * 60
        await site_nav.get_by_role("link", name="Compose").click()
        await page.get_by_label("Title", exact=True).fill("Tomorrow's early edition")
        await page.get_by_label("At a time").check()
        await page.get_by_label("Send at").fill(_local_input(due))
        await page.get_by_label("Time zone").fill("UTC")
        await _checked(page, axe_source, "compose-scheduled")
        await page.get_by_role("button", name="Send", exact=True).click()
        await page.wait_for_url(re.compile(rf"/dashboard/sites/{site_id}/notifications/\w+$"))
        scheduled = page.url.rsplit("/", 1)[1]
        await expect(page.locator("#status")).to_have_text("scheduled")
        await _checked(page, axe_source, "notification-scheduled")
        await page.get_by_role("button", name="Cancel").click()
        await expect(page.get_by_role("status")).to_have_text("Cancelled: nothing more goes out.")
        await expect(page.locator("#status")).to_have_text("cancelled")
        await _checked(page, axe_source, "notification-cancelled")

        dashboard.advance(due - dashboard.now() + 120)
        # A probe sent after the cancelled one was due: once every browser has it, the engine
        # has run past that time, and the cancelled one must not have gone out before it.
        probe = await api.post(
            "/api/v1/notifications",
            json={"title": "probe"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert probe.status_code == 202, probe.text
        for browser, before in [(b, 1) for b in sport] + [(b, 0) for b in other]:
            await browser.wait_for(before + 1, timeout=DONE_TIMEOUT_SECONDS)
        titles = {m.json()["notification"]["title"] for b in sport + other for m in b.messages}
        assert titles == {"Metropolis wins the cup", "probe"}
        status = await api.get(
            f"/api/v1/notifications/{scheduled}", headers={"Authorization": f"Bearer {key}"}
        )
        assert status.json()["status"] == "cancelled"
        assert status.json()["counts"]["accepted"] == 0
    assert blocked == [], blocked
    await context.close()
