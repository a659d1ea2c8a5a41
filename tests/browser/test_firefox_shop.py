"""The demo shop's cart abandonment in real Firefox ESR (issue #11): add to cart and leave,
and the browser shows the reminder after the (short) delay; check out first, and nothing
comes. The trigger is the one `pushgate demo` creates (pushgate.demo.cart_reminder)."""

from __future__ import annotations

import asyncio

from playwright.async_api import Browser, Page, expect

from pushgate.demo import cart_reminder
from pushgate.testing import LocalPushService
from tests.browser.conftest import Site, eventually, wait_for_acks
from tests.browser.test_firefox_end_to_end import shown_notifications, subscribe_on_demo

DELAY_SECONDS = 2


async def open_shop(firefox: Browser, site: Site) -> Page:
    async with site.admin() as admin:
        trigger = {"name": "cart reminder"} | cart_reminder(f"{DELAY_SECONDS}s", site.url)
        created = await admin.post("/api/v1/triggers", json=trigger)
        assert created.status_code == 201, created.text
    page = await (await firefox.new_context()).new_page()
    await subscribe_on_demo(page, site)
    await page.get_by_role("link", name="Shop").click()
    await expect(page.get_by_role("heading", name="The Relay tote bag")).to_be_visible()
    return page


async def test_a_cart_left_behind_brings_a_reminder(
    firefox: Browser, push_service: LocalPushService, demo_site: Site
) -> None:
    page = await open_shop(firefox, demo_site)
    await page.get_by_role("button", name="Add to cart").click()
    await page.get_by_role("button", name="Add to cart").click()
    await expect(page.locator("body")).to_have_attribute("data-cart", "tracked")
    await page.goto(demo_site.url + "/")  # and leave
    assert await wait_for_acks(push_service, 1) == [100]
    (shown,) = await eventually(lambda: shown_notifications(page), "the reminder to be shown")
    assert shown["title"] == "Your Relay tote bag is waiting"
    assert shown["body"] == "2 in your cart: check out before it sells out."
    await page.context.close()


async def test_checking_out_first_brings_nothing(
    firefox: Browser, push_service: LocalPushService, demo_site: Site
) -> None:
    page = await open_shop(firefox, demo_site)
    await page.get_by_role("button", name="Add to cart").click()
    await expect(page.locator("body")).to_have_attribute("data-cart", "tracked")
    await page.get_by_role("button", name="Check out").click()
    await expect(page.get_by_role("status").first).to_have_text(
        "Thank you! Your order is on its way."
    )
    await asyncio.sleep(DELAY_SECONDS + 3)  # past the delay, and a tick of the engine
    assert push_service.received == [] and await shown_notifications(page) == []
    await page.context.close()
