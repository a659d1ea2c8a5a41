"""The notification pages in Debian's Chromium against the real gateway and the local push
service: the list, a sent notification's funnel (simulated browsers report `delivered` and
`clicked` with the tokens of their decrypted payloads), its failures, and a scheduled one
cancelled with its button. Every page is checked by axe-core (no serious or critical
violation) and by its own Content-Security-Policy, and saved as a screenshot under
artifacts/browser/."""

from __future__ import annotations

import re
import time

import httpx
from playwright.async_api import Browser, expect

from pushgate.testing import Fault, LocalPushService
from pushgate.testing.browser import SimulatedBrowser
from tests.browser.conftest import Gateway, csp_violations, eventually
from tests.browser.test_dashboard import axe_source as axe_source  # the fixture, shared
from tests.browser.test_dashboard import check_accessibility, create_admin
from tests.browser.test_dashboard_settings import log_in

ORIGIN = "https://notifications.example"
SUBSCRIBERS = 8


async def _subscribe(
    http: httpx.AsyncClient, site_id: str, push: LocalPushService
) -> list[SimulatedBrowser]:
    browsers = [push.new_browser() for _ in range(SUBSCRIBERS)]
    for browser in browsers:
        answer = await http.post(
            f"/v1/sites/{site_id}/subscriptions",
            json={"subscription": browser.subscription()},
            headers={"Origin": ORIGIN},
        )
        assert answer.status_code == 201, answer.text
    return browsers


async def _send(http: httpx.AsyncClient, api_key: str, body: dict[str, object]) -> str:
    answer = await http.post(
        "/api/v1/notifications", json=body, headers={"Authorization": f"Bearer {api_key}"}
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


async def _done(http: httpx.AsyncClient, api_key: str, notification_id: str) -> bool:
    answer = await http.get(
        f"/api/v1/notifications/{notification_id}",
        headers={"Authorization": f"Bearer {api_key}"},
    )
    return bool(answer.json()["status"] == "done")


async def test_notification_list_detail_and_cancel_in_chromium(
    chromium: Browser, gateway: Gateway, push_service: LocalPushService, axe_source: str
) -> None:
    create_admin(gateway, "notifications@example.com")
    site = gateway.create_site("The Morning Relay", [ORIGIN])
    key = site["api_key"]
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        browsers = await _subscribe(http, site["id"], push_service)
        push_service.inject(Fault(status=410, endpoint_id=browsers[-1].id))
        sent = await _send(
            http, key, {"title": "Storm warning", "body": "Stay inside", "url": ORIGIN + "/storm"}
        )
        await eventually(lambda: _done(http, key, sent), "the notification to be sent")
        for i, browser in enumerate(browsers[:5]):  # 5 delivered, the first 2 clicked
            token = browser.messages[0].json()["pushgate"]["token"]
            for kind in ("delivered", "clicked") if i < 2 else ("delivered",):
                answer = await http.post(
                    "/v1/events", json={"token": token, "type": kind}, headers={"Origin": ORIGIN}
                )
                assert answer.status_code == 204, answer.text
        later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
        scheduled = await _send(http, key, {"title": "Tomorrow's forecast", "send_at": later})
        ab_body = {
            "title": "Umbrella deals",
            "variants": [{"title": "Umbrellas -20 %"}, {"title": "Stay dry for less"}],
            "ab_test": {"sample_percent": 50, "winner_after": "1h", "metric": "clicked"},
        }
        ab_test = await _send(http, key, ab_body)

    context = await chromium.new_context(viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    blocked = csp_violations(page)
    await log_in(page, gateway, "notifications@example.com")
    await page.goto(f"{gateway.url}/dashboard/sites/{site['id']}")
    await (
        page.get_by_role("navigation", name="The Morning Relay")
        .get_by_role("link", name="Notifications")
        .click()
    )
    await expect(
        page.get_by_role("heading", name="The Morning Relay: notifications")
    ).to_be_visible()
    rows = page.locator("#notifications tbody tr")
    await expect(rows).to_have_count(3)
    await expect(rows.nth(1)).to_contain_text("Tomorrow's forecast")
    await expect(rows.nth(2)).to_contain_text(
        re.compile(r"Storm warning\s+done\s+8\s+5\s+2\s+28.6 %")
    )
    await check_accessibility(page, axe_source, "notifications")

    await page.get_by_role("link", name="Storm warning").click()
    await expect(page.get_by_role("heading", name="Notification: Storm warning")).to_be_visible()
    await expect(page.locator("#funnel-accepted")).to_contain_text("7")
    await expect(page.locator("#funnel-delivered")).to_contain_text("71.4 % of accepted")
    await expect(page.locator("#funnel-clicked")).to_contain_text("40.0 % of delivered")
    await expect(page.locator("#funnel-gone")).to_contain_text("12.5 % of targeted")
    await expect(page.locator("#failures tbody tr")).to_have_count(1)
    await expect(page.get_by_role("img", name="Deliveries per minute")).to_be_visible()
    await expect(
        page.get_by_role("img", name="Funnel: what became of the notification")
    ).to_be_visible()
    await expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    await expect(page.get_by_role("link", name="Duplicate")).to_have_attribute(
        "href", f"/dashboard/sites/{site['id']}/compose?from={sent}"
    )
    await page.get_by_text("The numbers: Deliveries per minute").click()  # open the table
    await expect(page.locator("#timeline-chart-table")).to_be_visible()
    await check_accessibility(page, axe_source, "notification")

    await page.goto(f"{gateway.url}/dashboard/sites/{site['id']}/notifications/{ab_test}")
    await expect(page.get_by_role("heading", name="A/B test")).to_be_visible()
    await expect(page.locator("#variants tbody tr")).to_have_count(2)
    await expect(page.locator("#ab-winner")).to_have_text(
        re.compile(r"No winner chosen yet: the gateway chooses it at [0-9-]{10} [0-9:]{5} UTC\.")
    )
    await check_accessibility(page, axe_source, "notification-ab-test")

    await page.goto(f"{gateway.url}/dashboard/sites/{site['id']}/notifications/{scheduled}")
    await check_accessibility(page, axe_source, "notification-scheduled")
    await page.get_by_role("button", name="Cancel").click()
    await expect(page.get_by_role("status")).to_have_text("Cancelled: nothing more goes out.")
    await expect(page.locator("#status")).to_have_text("cancelled")
    await expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    await check_accessibility(page, axe_source, "notification-cancelled")
    assert blocked == []  # the pages keep to their own Content-Security-Policy
    await context.close()
