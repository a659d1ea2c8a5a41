"""The composer in Debian's Chromium against the real gateway: typing redraws the three
previews, the payload size and the audience's live count show (asked of the server by
compose.js under the page's own Content-Security-Policy), axe-core finds no serious or critical
violation, and Send lands on the notification's page with the message delivered to the
simulated browsers the audience holds. Screenshots go to artifacts/browser/."""

from __future__ import annotations

import re

import httpx
from playwright.async_api import Browser, expect

from pushgate.store import open_store
from pushgate.store.models import NewSubscription
from pushgate.testing import LocalPushService, SimulatedBrowser
from tests.browser.conftest import Gateway, artifact, csp_violations
from tests.browser.test_dashboard import PASSWORD, axe_source, check_accessibility, create_admin

__all__ = ["axe_source"]  # the fixture, shared with test_dashboard.py
SITE_ORIGIN = "https://compose.example"
PREVIEWS = ("#preview-windows", "#preview-macos", "#preview-android")


async def _subscribe(
    gateway: Gateway, site_id: str, browsers: list[SimulatedBrowser], tags: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
        for browser in browsers:
            answer = await client.post(
                f"/v1/sites/{site_id}/subscriptions",
                json={"subscription": browser.subscription(), "tags": tags},
                headers={"Origin": SITE_ORIGIN},
            )
            assert answer.status_code == 201, answer.text


async def test_composer_previews_size_and_count_update_as_the_operator_types(
    chromium: Browser, gateway: Gateway, push_service: LocalPushService, axe_source: str
) -> None:
    create_admin(gateway, "composer@example.com")
    site = gateway.create_site("Compose in Chromium", [SITE_ORIGIN])
    pro = [push_service.new_browser() for _ in range(2)]
    free = [push_service.new_browser()]
    await _subscribe(gateway, site["id"], pro, {"plan": "pro"})
    await _subscribe(gateway, site["id"], free, {"plan": "free"})

    context = await chromium.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    blocked = csp_violations(page)
    await page.goto(f"{gateway.url}/dashboard/login")
    await page.get_by_label("Email").fill("composer@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Sites")).to_be_visible()

    await page.goto(f"{gateway.url}/dashboard/sites/{site['id']}/compose")
    await expect(page.get_by_role("heading", name="Compose")).to_be_visible()
    await expect(page.locator("#count-value")).to_have_text("3")  # Everyone, on the server
    await check_accessibility(page, axe_source, "compose-empty")
    await page.get_by_role("button", name="Send", exact=True).click()  # no title: refused
    await expect(page.locator("#title-error")).to_have_text("title is required")
    await check_accessibility(page, axe_source, "compose-errors")
    # Only the chosen parts of the form show: the time fields, the A/B test's variants.
    await expect(page.get_by_label("Send at")).to_be_hidden()
    await page.get_by_label("At a time").check()
    await expect(page.get_by_label("Send at")).to_be_visible()
    await page.get_by_label("Send now").check()
    await expect(page.get_by_label("Variant B title")).to_be_hidden()
    await page.get_by_label("A/B test this notification").check()
    await expect(page.get_by_label("Variant B title")).to_be_visible()
    await page.get_by_label("A/B test this notification").uncheck()

    await page.get_by_label("Title", exact=True).fill("Melons are in")
    await page.get_by_label("Body", exact=True).fill("Sweet, and only this week.")
    await page.get_by_label("Icon", exact=True).fill("https://compose.example/icon.png")
    await page.get_by_label("Button 1 label").fill("Buy")
    for preview in PREVIEWS:
        await expect(page.locator(f"{preview} .title")).to_have_text("Melons are in")
        await expect(page.locator(f"{preview} .body")).to_have_text("Sweet, and only this week.")
        await expect(page.locator(f"{preview} .picture.icon")).to_be_visible()
    await expect(page.locator("#preview-windows .actions")).to_contain_text("Buy")
    await expect(page.locator("#preview-windows .picture.hero")).to_be_hidden()
    await expect(page.locator("#size-value")).to_have_text(re.compile(r"^[1-9][0-9,]*$"))
    await expect(page.locator("#payload-size")).to_contain_text("of 3,993 bytes")

    await expect(page.get_by_label("Tags to match")).to_be_hidden()  # only the chosen part shows
    await page.get_by_label("Tags", exact=True).check()
    await page.get_by_label("Tags to match").fill("plan=pro")
    await expect(page.locator("#count-value")).to_have_text("2")
    await check_accessibility(page, axe_source, "compose-filled")

    await page.get_by_role("button", name="Send", exact=True).click()
    await page.wait_for_url(re.compile(rf"/dashboard/sites/{site['id']}/notifications/\w+$"))
    for browser in pro:
        (message,) = await browser.wait_for(1, timeout=30)
        assert message.json()["notification"]["title"] == "Melons are in"
        assert message.json()["notification"]["actions"] == [{"action": "button-1", "title": "Buy"}]
    assert [len(b.messages) for b in free] == [0]

    # Past 1,000 subscribers a confirmation page comes first.
    big = gateway.create_site("Compose to many", [SITE_ORIGIN])
    many = [
        NewSubscription(f"{push_service.base_url}/push/many-{i}", "p", "a") for i in range(1001)
    ]
    async with open_store(gateway.database) as store:
        await store.add_subscriptions_bulk(big["id"], many)
    await page.goto(f"{gateway.url}/dashboard/sites/{big['id']}/compose")
    await page.get_by_label("Title", exact=True).fill("To many")
    await page.get_by_role("button", name="Send", exact=True).click()
    await expect(
        page.get_by_role("heading", name=re.compile("Send .To many. to 1,001"))
    ).to_be_visible()
    await check_accessibility(page, axe_source, "compose-confirm")
    await page.get_by_role("button", name="Back to the form").click()
    await expect(page.get_by_label("Title", exact=True)).to_have_value("To many")
    assert blocked == [], blocked
    await context.close()

    # Without JavaScript the Preview button asks the server for the same previews and size.
    still = await chromium.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    page = await still.new_page()
    await page.goto(f"{gateway.url}/dashboard/login")
    await page.get_by_label("Email").fill("composer@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.goto(f"{gateway.url}/dashboard/sites/{site['id']}/compose")
    await expect(page.get_by_label("Tags to match")).to_be_visible()  # nothing hidden
    await page.get_by_label("Title", exact=True).fill("Without a script")
    await page.get_by_role("button", name="Preview").click()
    for preview in PREVIEWS:
        await expect(page.locator(f"{preview} .title")).to_have_text("Without a script")
    await expect(page.locator("#size-value")).to_have_text(re.compile(r"^[1-9][0-9,]*$"))
    await page.screenshot(path=artifact("dashboard-compose-no-js.png"), full_page=True)
    await still.close()
