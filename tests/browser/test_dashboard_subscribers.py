"""The Subscribers page in Debian's Chromium against the real gateway: charts, breakdowns, a
search and a Delete, each state checked by axe-core (no serious or critical violation) and by
its own Content-Security-Policy, and saved as a screenshot under artifacts/browser/."""

from __future__ import annotations

import httpx
from playwright.async_api import Browser, expect

from pushgate.testing import LocalPushService
from tests.browser.conftest import Gateway, csp_violations
from tests.browser.test_dashboard import axe_source as axe_source  # the fixture, shared
from tests.browser.test_dashboard import check_accessibility, create_admin
from tests.browser.test_dashboard_settings import log_in

ORIGIN = "https://readers.example"
SUBSCRIBERS = 6


async def test_subscribers_page_search_and_delete_in_chromium(
    chromium: Browser, gateway: Gateway, push_service: LocalPushService, axe_source: str
) -> None:
    create_admin(gateway, "subscribers@example.com")
    site = gateway.create_site("The Daily Reader", [ORIGIN])
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        for i in range(SUBSCRIBERS):
            browser = push_service.new_browser()
            answer = await http.post(
                f"/v1/sites/{site['id']}/subscriptions",
                json={
                    "subscription": browser.subscription(),
                    "language": ["en-GB", "de-DE", "fr-FR"][i % 3],
                    "timezone": "Europe/Berlin" if i % 2 else "Europe/London",
                    "external_id": f"reader-{i}",
                    "tags": {"plan": "pro" if i < 2 else "free"},
                },
                headers={"Origin": ORIGIN},
            )
            assert answer.status_code == 201, answer.text

    context = await chromium.new_context(viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    blocked = csp_violations(page)
    await log_in(page, gateway, "subscribers@example.com")
    await page.goto(f"{gateway.url}/dashboard/sites/{site['id']}")
    await (
        page.get_by_role("navigation", name="The Daily Reader")
        .get_by_role("link", name="Subscribers")
        .click()
    )
    await expect(page.get_by_role("heading", name="The Daily Reader: subscribers")).to_be_visible()
    await expect(page.locator("#total-subscribers")).to_have_text(str(SUBSCRIBERS))
    await expect(page.get_by_role("img", name="Subscribers")).to_be_visible()
    await expect(page.get_by_role("img", name="Growth per day")).to_be_visible()
    await expect(page.get_by_role("img", name="Churn per day")).to_be_visible()
    await expect(page.locator("#breakdown-language")).to_contain_text("en-GB")
    await expect(page.locator("#breakdown-timezone")).to_contain_text("50.0 %")
    await expect(page.locator(".subscriber-list tbody tr")).to_have_count(SUBSCRIBERS)
    await check_accessibility(page, axe_source, "subscribers")

    await page.get_by_label("Search").fill("plan=pro")
    await page.get_by_role("button", name="Search").click()
    rows = page.locator(".subscriber-list tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text("reader-0")
    await check_accessibility(page, axe_source, "subscribers-search")

    await rows.first.get_by_role("button", name="Delete").click()
    await expect(page.get_by_role("status")).to_have_text("The subscription was deleted.")
    await expect(page.locator("#total-subscribers")).to_have_text(str(SUBSCRIBERS - 1))
    await expect(page.locator("#period-unsubscribed")).to_have_text("1")
    await page.get_by_label("Search").fill("reader-0")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("#no-match")).to_have_text("No subscription matches “reader-0”.")
    await check_accessibility(page, axe_source, "subscribers-deleted")
    assert blocked == []  # the page keeps to its own Content-Security-Policy
    await context.close()
