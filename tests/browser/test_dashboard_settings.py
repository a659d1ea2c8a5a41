"""A site's overview, settings and API keys pages in Debian's Chromium against the real gateway:
"Subscribe this browser" and "Send a test to me" (the push subscription is the local push
service's, handed to the page in place of Chromium's, which needs Google's servers), the
settings form saved and refused, a key created, revoked, and the last one kept. Every page is
checked by axe-core (no serious or critical violation) and its own Content-Security-Policy,
and saved as a screenshot under artifacts/browser/."""

from __future__ import annotations

import json
import re

from playwright.async_api import Browser, Page, expect

from pushgate.testing import LocalPushService
from tests.browser.conftest import Gateway, csp_violations
from tests.browser.test_dashboard import PASSWORD, check_accessibility, create_admin
from tests.browser.test_dashboard import axe_source as axe_source  # the fixture, shared

# Chromium subscribes through Google's push servers, which a test must not reach: the page gets
# the local push service's subscription instead, and the test holds its keys.
FAKE_PUSH_MANAGER = """
PushManager.prototype.getSubscription = async function () { return null; };
PushManager.prototype.subscribe = async function (options) {
  window.__serverKeyBytes = new Uint8Array(options.applicationServerKey).length;
  const subscription = %s;
  return { toJSON: () => subscription };
};
"""


async def log_in(page: Page, gateway: Gateway, email: str) -> None:
    await page.goto(gateway.url + "/dashboard/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Sites")).to_be_visible()


async def test_overview_settings_and_keys_pages(
    chromium: Browser, gateway: Gateway, push_service: LocalPushService, axe_source: str
) -> None:
    create_admin(gateway, "settings@example.com")
    site = gateway.create_site("The Evening Relay", ["https://evening-relay.example"])
    own_browser = push_service.new_browser(site["vapid_public_key"])
    context = await chromium.new_context(viewport={"width": 1100, "height": 800})
    await context.grant_permissions(["notifications"], origin=gateway.url)
    await context.add_init_script(FAKE_PUSH_MANAGER % json.dumps(own_browser.subscription()))
    page = await context.new_page()
    blocked = csp_violations(page)
    await log_in(page, gateway, "settings@example.com")
    overview = f"{gateway.url}/dashboard/sites/{site['id']}"

    # Overview: subscribe this browser, then send it a test.
    await page.goto(overview)
    await expect(page.get_by_role("heading", name="Send a test to me")).to_be_visible()
    await check_accessibility(page, axe_source, "site-overview")
    await page.get_by_role("button", name="Send a test to me").click()
    await expect(page.locator("#test-result")).to_contain_text("None of your browsers")
    await check_accessibility(page, axe_source, "site-test-none")
    await page.get_by_role("button", name="Subscribe this browser").click()
    await expect(page.locator("#subscribe-status")).to_have_text(
        "This browser is subscribed. Press Send a test to me.", timeout=15_000
    )
    assert await page.evaluate("window.__serverKeyBytes") == 65  # the site's VAPID key, decoded
    await expect(page.locator("#my-browsers")).to_have_text("1")
    await page.get_by_role("button", name="Send a test to me").click()
    await expect(page.locator("#test-result")).to_have_text("Sent to 1 of your browsers.")
    await check_accessibility(page, axe_source, "site-test-sent")
    (message,) = await own_browser.wait_for(1, timeout=30)
    assert message.json()["notification"]["title"] == "Test from pushgate"

    # Settings: refused, then saved.
    await page.get_by_role("link", name="Settings").click()
    await expect(page.get_by_role("heading", name="The Evening Relay: settings")).to_be_visible()
    await check_accessibility(page, axe_source, "site-settings")
    await page.get_by_label("Prompt text").fill("Evening headlines, once a day?")
    await page.get_by_label("Default time zone").fill("Europe/Nowhere")
    await page.get_by_label("Quiet from").fill("22:00")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    await expect(page.locator("#default_timezone-error")).to_contain_text("IANA time zone")
    await expect(page.locator("#quiet_end-error")).to_be_visible()
    await check_accessibility(page, axe_source, "site-settings-errors")
    await page.get_by_label("Default time zone").fill("Europe/Berlin")
    await page.get_by_label("Quiet until").fill("07:00")
    await page.get_by_label("Most notifications").fill("2")
    await page.get_by_label("Per period").fill("24h")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_role("status")).to_have_text("Saved.")
    await expect(page.get_by_label("Prompt text")).to_have_value("Evening headlines, once a day?")
    await check_accessibility(page, axe_source, "site-settings-saved")

    # API keys: create one (shown once), revoke it, and the last one stays.
    await page.get_by_role("link", name="API keys").click()
    await expect(page.get_by_role("heading", name="The Evening Relay: API keys")).to_be_visible()
    await check_accessibility(page, axe_source, "site-keys")
    await page.get_by_label("Key name").fill("Newsroom CMS")
    await page.get_by_role("button", name="Create key").click()
    await expect(page.locator("#api-key")).to_have_text(re.compile(r"pgk_\S{43}"))
    await check_accessibility(page, axe_source, "site-key-created")
    await page.get_by_role("link", name="Back to the site's API keys").click()
    await page.get_by_role("button", name="Revoke Newsroom CMS").click()
    await expect(page.get_by_role("status")).to_contain_text("Key revoked")
    await page.get_by_role("button", name="Revoke", exact=False).first.click()
    await expect(page.get_by_role("alert")).to_contain_text("last API key")
    await check_accessibility(page, axe_source, "site-keys-last")
    assert blocked == []
    await context.close()
