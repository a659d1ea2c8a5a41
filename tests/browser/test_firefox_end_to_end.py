"""Real pushes, end to end: demo site -> gateway -> local push service -> Firefox ESR -> back.

Firefox subscribes through the local push service's autopush WebSocket side (docs/architecture.md,
"Browser tests"), so every message here was really encrypted by the gateway and decrypted by
Firefox (ack code 100).
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.async_api import Browser, BrowserContext, Page, Route, expect

from pushgate.testing import LocalPushService
from tests.browser.conftest import Site, artifact, eventually, wait_for_acks

ARTICLE = "/articles/cup-final.html"
ACTION_ARTICLE = "/articles/heatwave.html"

NOTIFICATIONS_JS = """async () => {
  const registration = await navigator.serviceWorker.getRegistration("/");
  if (!registration) return [];
  const shown = await registration.getNotifications();
  return shown.map((n) => ({title: n.title, body: n.body, icon: n.icon, tag: n.tag,
    actions: (n.actions || []).map((a) => ({action: a.action, title: a.title})), data: n.data}));
}"""

# Clicks every open notification the way a user would: Firefox's alert windows are privileged
# XUL windows; with MOZ_REMOTE_ALLOW_SYSTEM_ACCESS=1 an about: page can reach them
# (docs/architecture.md).
CLICK_ALERTS_JS = """() => {
  let clicked = 0;
  for (const win of Services.wm.getEnumerator("alert:alert")) { win.onAlertClick(); clicked++; }
  return clicked;
}"""


async def subscribe_on_demo(page: Page, site: Site) -> None:
    # Permission is granted by pref, so no soft prompt here (the Chromium tests cover it).
    await page.goto(site.url + "/")
    await expect(page.get_by_role("status")).to_have_text(
        "Notifications are allowed but you are not subscribed."
    )
    await page.screenshot(
        path=artifact("firefox-demo-front-page.png"), full_page=True, animations="disabled"
    )
    await page.get_by_role("radio", name="Sports").check()
    await page.get_by_role("button", name="Get breaking news").click()
    await expect(page.get_by_role("button", name="Stop notifications")).to_be_visible(
        timeout=20_000
    )
    assert await page.evaluate("pushgate.state()") == "subscribed"


async def shown_notifications(page: Page) -> list[dict[str, Any]]:
    return list(await page.evaluate(NOTIFICATIONS_JS))


async def privileged_page(context: BrowserContext) -> Page:
    page = await context.new_page()
    await page.goto("about:preferences", wait_until="commit")
    await page.wait_for_function("typeof Services !== 'undefined'")
    return page


async def test_firefox_subscribe_receive_click_and_unsubscribe(
    firefox: Browser, push_service: LocalPushService, demo_site: Site
) -> None:
    context = await firefox.new_context()
    page = await context.new_page()
    await subscribe_on_demo(page, demo_site)

    # The subscription is stored with its tags, time zone and language.
    subs = await eventually(demo_site.subscriptions, "the subscription at the gateway")
    assert len(subs) == 1
    stored = subs[0]
    assert stored["endpoint"].startswith(push_service.base_url + "/push/")
    assert stored["tags"] == {"topic": "sports"}
    browser_env = await page.evaluate(
        "({tz: Intl.DateTimeFormat().resolvedOptions().timeZone, lang: navigator.language})"
    )
    assert stored["timezone"] == browser_env["tz"]
    assert stored["language"] == browser_env["lang"]

    # Send through the admin API to the sports audience.
    url = demo_site.url + ARTICLE
    notification_id = await demo_site.send(
        title="Late winner sends City into the final",
        body="A header in the 89th minute settled it.",
        url=url,
        icon=demo_site.url + "/icon.png",
        tag="cup-final",
        actions=[{"action": "read", "title": "Read", "url": demo_site.url + ACTION_ARTICLE}],
        audience={"tags": {"topic": "sports"}},
    )
    assert await wait_for_acks(push_service, 1) == [100], (
        "Firefox could not decrypt the gateway's message"
    )

    shown = await eventually(lambda: shown_notifications(page), "the notification to be shown")
    assert len(shown) == 1
    note = shown[0]
    assert note["title"] == "Late winner sends City into the final"
    assert note["body"] == "A header in the 89th minute settled it."
    assert note["icon"] == demo_site.url + "/icon.png"
    assert note["tag"] == "cup-final"
    assert note["actions"] == [{"action": "read", "title": "Read"}]
    assert note["data"]["url"] == url
    assert note["data"]["action_urls"] == {"read": demo_site.url + ACTION_ARTICLE}
    assert note["data"]["pushgate"]["id"] == notification_id
    await render_notifications(page, shown)
    await page.screenshot(path=artifact("firefox-notification-shown.png"), animations="disabled")
    await eventually(
        lambda: demo_site.counted(notification_id, "delivered"), "the delivered event to be counted"
    )

    # Click it headless: a tab opens at the notification's URL, and the click is counted.
    chrome_page = await privileged_page(context)
    async with context.expect_page(timeout=15_000) as opened:
        assert await chrome_page.evaluate(CLICK_ALERTS_JS) == 1
    new_page = await opened.value
    await new_page.wait_for_load_state()
    assert new_page.url == url
    counts = await eventually(
        lambda: demo_site.counted(notification_id, "clicked"), "the clicked event to be counted"
    )
    assert counts["delivered"] == 1 and counts["clicked"] == 1
    # Firefox fires notificationclose for a clicked notification too; its report comes first
    # (the click's waits for the new tab), so by now a dismissed one would have been counted.
    assert counts["dismissed"] == 0, "a click was counted as dismissed too"
    assert await shown_notifications(page) == [], "the click should close the notification"

    # The browser drops the subscription (as when a user revokes it): the push service then
    # answers 410 and the gateway forgets the subscriber.
    await page.evaluate(
        "navigator.serviceWorker.ready.then(r => r.pushManager.getSubscription())"
        ".then(s => s.unsubscribe())"
    )
    await eventually(lambda: unregistered(stored["endpoint"]), "Firefox to unregister")
    second = await demo_site.send(title="Second", body="Nobody gets this")
    await eventually(
        lambda: demo_site.counted(second, "gone"), "the push service's 410 to be recorded"
    )
    assert await demo_site.subscriptions() == []
    await context.close()


async def unregistered(endpoint: str) -> bool:
    # Firefox tells the push service over the WebSocket; the endpoint then answers 410 to anyone
    # (it is looked up before any header is checked).
    async with httpx.AsyncClient(timeout=5) as client:
        return (await client.post(endpoint)).status_code == 410


async def render_notifications(page: Page, shown: list[dict[str, Any]]) -> None:
    """Draw what getNotifications() returned into the page, for the screenshot artifact."""
    await page.evaluate(
        """(shown) => {
      const box = document.createElement("aside");
      box.style.cssText = "position:fixed;right:16px;bottom:16px;width:360px;padding:14px;" +
        "background:#fff;border-radius:10px;font:14px system-ui;" +
        "box-shadow:0 8px 24px rgba(0,0,0,.2)";
      for (const n of shown) {
        const row = document.createElement("div");
        row.innerHTML = `<img width="40" height="40" style="float:left;margin-right:10px">` +
          `<strong></strong><p style="margin:4px 0"></p><small></small>`;
        row.querySelector("img").src = n.icon || "";
        row.querySelector("strong").textContent = n.title;
        row.querySelector("p").textContent = n.body;
        row.querySelector("small").textContent = "shown by the service worker · tag " + n.tag;
        box.appendChild(row);
      }
      document.body.appendChild(box);
    }""",
        shown,
    )


def new_vapid_public_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    raw = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


BROWSER_KEY_JS = """() => navigator.serviceWorker.ready
  .then((r) => r.pushManager.getSubscription())
  .then((s) => btoa(String.fromCharCode(...new Uint8Array(s.options.applicationServerKey)))
    .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, ""))"""


async def test_vapid_key_change_resubscribes_on_the_next_visit_keeping_the_subscriber(
    firefox: Browser, demo_site: Site
) -> None:
    context = await firefox.new_context()
    page = await context.new_page()
    await subscribe_on_demo(page, demo_site)
    before = (await eventually(demo_site.subscriptions, "the subscription"))[0]
    assert await page.evaluate(BROWSER_KEY_JS) == demo_site.vapid_public_key

    # The site's key is rotated: the config the snippet reads now names another key.
    rotated = new_vapid_public_key()

    async def rotate(route: Route) -> None:
        response = await route.fetch()
        config = await response.json()
        await route.fulfill(response=response, json={**config, "vapid_public_key": rotated})

    await context.route(f"{demo_site.gateway.url}/v1/sites/{demo_site.id}/config", rotate)
    await page.reload()

    async def moved() -> list[dict[str, Any]] | None:
        subs = await demo_site.subscriptions()
        return subs if subs and subs[0]["endpoint"] != before["endpoint"] else None

    after = await eventually(moved, "the snippet to subscribe again with the new key")
    assert len(after) == 1
    assert after[0]["id"] == before["id"], "old_endpoint should move the subscriber, not add one"
    assert after[0]["tags"] == before["tags"]
    assert await page.evaluate(BROWSER_KEY_JS) == rotated
    await context.close()
