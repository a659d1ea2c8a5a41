"""`pushgate.track` in real Firefox ESR (issue #11): the page's event reaches the gateway tied
to that browser's subscription, with typed props, and a trigger acts on it; without a
subscription, track rejects with not_subscribed."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser

from pushgate.testing import LocalPushService
from tests.browser.conftest import Site, eventually
from tests.browser.test_firefox_end_to_end import subscribe_on_demo

TRACK_JS = "pushgate.track('cart_add', {cart_id: 'c1', total: 12.5, gift: true})"
NOT_SUBSCRIBED_JS = """pushgate.track('cart_add').then(
  () => 'resolved', (error) => error.code)"""


async def test_track_reaches_the_gateway_and_a_trigger_acts_on_it(
    firefox: Browser, push_service: LocalPushService, demo_site: Site
) -> None:
    site = demo_site
    async with site.admin() as admin:
        trigger = {
            "name": "cart tagger",
            "when": {
                "event": "cart_add",
                "filter": {"and": [
                    {"field": "event.props.total", "op": "gt", "value": 10},
                    {"field": "event.props.gift", "op": "eq", "value": True},
                ]},
            },
            "action": {"set_tags": {"cart": "{{ event.props.cart_id }}"}},
        }  # fmt: skip
        created = await admin.post("/api/v1/triggers", json=trigger)
        assert created.status_code == 201, created.text
    context = await firefox.new_context()
    page = await context.new_page()
    await page.goto(site.url + "/")
    assert await page.evaluate(NOT_SUBSCRIBED_JS) == "not_subscribed"

    await subscribe_on_demo(page, site)
    answer = await page.evaluate(TRACK_JS)
    assert isinstance(answer["id"], str)

    async def tagged() -> list[dict[str, Any]] | None:
        subs = await site.subscriptions()
        return subs if subs and subs[0]["tags"].get("cart") == "c1" else None

    subs = await eventually(tagged, "the trigger to tag the subscriber from the page's event")
    assert subs[0]["tags"]["topic"] == "sports"  # the demo's own tag is kept
    await context.close()
