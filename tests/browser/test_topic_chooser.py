"""The demo site's topic chooser (#9 item 7), end to end in Firefox ESR: two readers, one for sports
and one for tech; a notification sent to the sports readers is decrypted and shown by the sports
reader's Firefox only.

The chooser stores the reader's topic as the tag `topic` (demo-site/app.js says why), so "the
sports readers" is the one filter leaf `tags.topic eq "sports"`, sent here with the README's
`pushgate send --filter` line. Each reader is a Firefox context of its own (its own service worker
and push subscription) on the local push service's autopush WebSocket.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, expect

from pushgate.testing import LocalPushService
from tests.browser.conftest import Site, artifact, child_env, eventually, wait_for_acks
from tests.browser.test_firefox_end_to_end import shown_notifications

SPORTS_READERS = {"field": "tags.topic", "op": "eq", "value": "sports"}  # a filter
TECH_READERS = {"tags": {"topic": "tech"}}  # the older form, which keeps working
# How long the tech reader's Firefox is watched for a notification it must not get, after the
# sports reader's showed: the same message reached the other browser in well under a second.
FAIR_WAIT_SECONDS = 5.0

ENDPOINT_JS = """() => navigator.serviceWorker.ready
  .then((r) => r.pushManager.getSubscription()).then((s) => s && s.endpoint)"""


async def choose(page: Page, topic: str) -> None:
    await page.get_by_role("radio", name=topic.capitalize()).check()


async def open_demo(context: BrowserContext, site: Site) -> Page:
    page = await context.new_page()
    await page.goto(site.url + "/")
    await expect(page.get_by_role("status")).to_have_text(
        "Notifications are allowed but you are not subscribed."
    )
    return page


async def subscribe(page: Page) -> str:
    await page.get_by_role("button", name="Get breaking news").click()
    await expect(page.get_by_role("button", name="Stop notifications")).to_be_visible(
        timeout=20_000
    )
    return str(await page.evaluate(ENDPOINT_JS))


async def stored_tags(site: Site, endpoint: str) -> dict[str, Any] | None:
    for subscription in await site.subscriptions():
        if subscription["endpoint"] == endpoint:
            return dict(subscription["tags"])
    return None


async def tags_become(site: Site, endpoint: str, expected: dict[str, Any]) -> None:
    async def matches() -> bool:
        return await stored_tags(site, endpoint) == expected

    await eventually(matches, f"the gateway to store the tags {expected}")


async def titles(page: Page) -> list[str]:
    return [note["title"] for note in await shown_notifications(page)]


async def shows_nothing_for(page: Page, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert await titles(page) == [], "the tech reader's Firefox showed a sports notification"
        await page.wait_for_timeout(250)


async def pushgate_send(site: Site, *args: str) -> str:
    """`pushgate send` as the README shows it; the notification's id. Not subprocess.run: the
    local push service answers on this test's event loop meanwhile."""
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "pushgate", "send", "--api-key", site.api_key),
        *("--gateway", site.gateway.url, *args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=child_env(),
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return str(json.loads(out)["id"])


def endpoint_id(push_service: LocalPushService, endpoint: str) -> str:
    prefix = push_service.base_url + "/push/"
    assert endpoint.startswith(prefix), endpoint
    return endpoint.removeprefix(prefix)


async def test_sports_notification_shows_only_in_the_sports_readers_firefox(
    firefox: Browser, push_service: LocalPushService, demo_site: Site
) -> None:
    sports_context, tech_context = await firefox.new_context(), await firefox.new_context()

    # The sports reader chooses before subscribing: the snippet sends the tags with the subscribe.
    sports_page = await open_demo(sports_context, demo_site)
    await choose(sports_page, "sports")
    sports_endpoint = await subscribe(sports_page)
    await tags_become(demo_site, sports_endpoint, {"topic": "sports"})

    # The tech reader first picks politics and subscribes, then changes to tech: setTags sends
    # the change to the gateway at once.
    tech_page = await open_demo(tech_context, demo_site)
    await choose(tech_page, "politics")
    tech_endpoint = await subscribe(tech_page)
    await tags_become(demo_site, tech_endpoint, {"topic": "politics"})
    await choose(tech_page, "tech")
    await tags_become(demo_site, tech_endpoint, {"topic": "tech"})
    await sports_page.screenshot(path=artifact("firefox-topic-chooser-sports.png"))

    # To the sports readers: one message goes out, to the sports reader's endpoint only.
    goal = await pushgate_send(
        demo_site,
        *("--title", "Late winner sends City into the final"),
        *("--url", demo_site.url + "/articles/cup-final.html"),
        *("--filter", json.dumps(SPORTS_READERS)),
    )
    assert await wait_for_acks(push_service, 1) == [100], "Firefox could not decrypt it"
    await eventually(lambda: titles(sports_page), "the sports reader's notification")
    assert await titles(sports_page) == ["Late winner sends City into the final"]
    counts = await eventually(
        lambda: demo_site.counted(goal, "accepted"), "the push service to accept it"
    )
    assert (counts["targeted"], counts["accepted"]) == (1, 1), counts
    assert [m.endpoint_id for m in push_service.received] == [
        endpoint_id(push_service, sports_endpoint)
    ]
    await shows_nothing_for(tech_page, FAIR_WAIT_SECONDS)

    # The tech reader's Firefox does receive and show what is sent to the tech readers, so its
    # silence above was not a browser that could not show anything; the sports reader's does not.
    await demo_site.send(title="New chip doubles battery life", audience=TECH_READERS)
    assert await wait_for_acks(push_service, 2) == [100, 100]
    await eventually(lambda: titles(tech_page), "the tech reader's notification")
    assert await titles(tech_page) == ["New chip doubles battery life"]
    assert await titles(sports_page) == ["Late winner sends City into the final"]

    # The page remembers the choice on the next visit.
    await tech_page.reload()
    await expect(tech_page.get_by_role("radio", name="Tech")).to_be_checked()
    await sports_context.close()
    await tech_context.close()
