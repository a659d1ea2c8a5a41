"""A site that already has a service worker imports pushgate's: push works, its fetch handler
still serves, and the snippet's API (reuse, tags, external id, unsubscribe) works through it."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from pushgate.testing import LocalPushService
from tests.browser.conftest import Site, eventually, wait_for_acks
from tests.browser.test_firefox_end_to_end import privileged_page, shown_notifications

# Closes every open notification as its close button does (Firefox's alert.js).
CLOSE_ALERTS_JS = """() => {
  let closed = 0;
  for (const win of Services.wm.getEnumerator("alert:alert")) { win.onAlertClose(); closed++; }
  return closed;
}"""
FETCH_JS = "fetch('/from-worker').then(r => r.text())"
# What the snippet leaves for the worker's pushsubscriptionchange handler (docs/embedding.md).
WORKER_CONFIG_JS = """(scope) => new Promise((resolve, reject) => {
  const open = indexedDB.open("pushgate", 1);
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const get = open.result.transaction("config").objectStore("config").get(scope);
    get.onsuccess = () => resolve(get.result);
  };
})"""


async def controlled(page: Page) -> bool:
    return bool(await page.evaluate("Boolean(navigator.serviceWorker.controller)"))


async def test_existing_worker_keeps_its_fetch_handler_and_receives_pushes(
    firefox: Browser, push_service: LocalPushService, existing_worker_site: Site
) -> None:
    site = existing_worker_site
    context = await firefox.new_context()
    page = await context.new_page()
    await page.goto(site.url + "/")
    await page.get_by_role("button", name="Notify me about orders").click()
    await eventually(lambda: subscribed(page), "the snippet to subscribe through /sw.js")
    script_url = await page.evaluate(
        "navigator.serviceWorker.getRegistration('/').then(r => r.active.scriptURL)"
    )
    assert script_url == site.url + "/sw.js", "the snippet must use the site's own worker"
    subs = await eventually(site.subscriptions, "the subscription at the gateway")
    assert subs[0]["tags"] == {"plan": "pro"}
    config = await page.evaluate(WORKER_CONFIG_JS, site.url + "/")
    assert config["subscriptions_url"] == f"{site.gateway.url}/v1/sites/{site.id}/subscriptions"
    assert config["vapid_public_key"] == site.vapid_public_key
    assert config["endpoint"] == subs[0]["endpoint"]

    # The site's own fetch handler still answers.
    await page.reload()
    await eventually(lambda: controlled(page), "the site's worker to control the page")
    assert await page.evaluate(FETCH_JS) == "served by the site's own worker"

    notification_id = await site.send(title="Your order shipped", body="It arrives Tuesday.")
    assert await wait_for_acks(push_service, 1) == [100]
    shown = await eventually(lambda: shown_notifications(page), "the notification")
    assert [(n["title"], n["body"]) for n in shown] == [
        ("Your order shipped", "It arrives Tuesday.")
    ]
    assert shown[0]["data"]["pushgate"]["id"] == notification_id
    assert await page.evaluate(FETCH_JS) == "served by the site's own worker"

    # The visitor closes it: `dismissed` is counted.
    chrome_page = await privileged_page(context)
    assert await chrome_page.evaluate(CLOSE_ALERTS_JS) == 1
    counts = await eventually(
        lambda: site.counted(notification_id, "dismissed"), "dismissed to be counted"
    )
    assert (counts["delivered"], counts["dismissed"], counts["clicked"]) == (1, 1, 0)
    assert await shown_notifications(page) == []

    # subscribe() again reuses the browser's subscription: same subscriber at the gateway.
    again = await page.evaluate("pushgate.subscribe().then(s => s.id)")
    assert again == subs[0]["id"]
    assert len(await site.subscriptions()) == 1

    # setTags merges (null removes a tag); setExternalId attaches the site's user id.
    await page.evaluate("pushgate.setTags({plan: null, city: 'Paris'})")
    await page.evaluate("pushgate.setExternalId('user-42')")
    stored = (await site.subscriptions())[0]
    assert stored["tags"] == {"city": "Paris"}
    assert stored["external_id"] == "user-42"

    # unsubscribe() removes it at the gateway and in the browser.
    assert await page.evaluate("pushgate.unsubscribe()") is True
    assert await site.subscriptions() == []
    assert await page.evaluate("pushgate.state()") == "unsubscribed"
    assert (
        await page.evaluate(
            "navigator.serviceWorker.ready.then(r => r.pushManager.getSubscription())"
        )
        is None
    )
    await expect(page.get_by_role("button", name="Notify me about orders")).to_be_visible()
    await context.close()


async def subscribed(page: Page) -> bool:
    return bool(await page.evaluate("pushgate.state ? pushgate.state() : null") == "subscribed")
