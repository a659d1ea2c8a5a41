"""`pushgate.track` from a real page in Firefox ESR, checked at the gateway itself: the event is
stored once, tied to that browser's subscription, with props of the types the page gave; a
bad name rejects with the gateway's error code, and so does a browser without a subscription.
(test_firefox_track.py follows such an event on through a trigger.)"""

from __future__ import annotations

from playwright.async_api import Browser

from pushgate.testing import LocalPushService
from tests.browser.conftest import Site
from tests.browser.test_firefox_end_to_end import subscribe_on_demo

TRACK_JS = "pushgate.track('cart_add', {cart_id: 'c1', total: 12.5, items: 3, gift: false})"


def rejection(call: str) -> str:
    """JavaScript that settles to "resolved", or to the rejection's "name:code"."""
    return f"{call}.then(() => 'resolved', (error) => `${{error.name}}:${{error.code}}`)"


async def test_track_stores_the_event_tied_to_the_subscription_with_typed_props(
    firefox: Browser, push_service: LocalPushService, demo_site: Site
) -> None:
    context = await firefox.new_context()
    page = await context.new_page()
    await page.goto(demo_site.url + "/")
    unsubscribed = await page.evaluate(rejection("pushgate.track('cart_add')"))
    assert unsubscribed == "PushgateError:not_subscribed"

    await subscribe_on_demo(page, demo_site)
    answer = await page.evaluate(TRACK_JS)
    bad = await page.evaluate(rejection("pushgate.track('no spaces')"))
    assert bad == "PushgateError:invalid_request"
    (subscription,) = await demo_site.subscriptions()
    async with demo_site.admin() as admin:
        # The same id again is ignored and answers the event as stored.
        stored = await admin.post(
            "/api/v1/events", json={"id": answer["id"], "name": "probe", "external_id": "x"}
        )
    await context.close()
    assert stored.status_code == 200, stored.text
    event = stored.json()
    assert (event["name"], event["subscription_id"], event["external_id"]) == (
        "cart_add", subscription["id"], None,
    )  # fmt: skip
    assert event["props"] == {"cart_id": "c1", "total": 12.5, "items": 3, "gift": False}
    assert [type(v) for v in event["props"].values()] == [str, float, int, bool]
