"""Triggers end to end with the test clock (issue #11): a real `pushgate serve` whose clock
is PUSHGATE_TEST_CLOCK_FILE, events posted to the admin API, notifications decrypted by the
local push service's simulated browsers."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from pushgate.clock import TEST_CLOCK_ENV, FileClock
from pushgate.testing import LocalPushService
from tests.conftest import Gateway, Site, site_of, subscribe_all, wait_until_done

START = 1_800_000_000.0
HOUR = 3600.0
CART_REMINDER = {
    "name": "cart reminder",
    "when": {"event": "cart_add"},
    "delay": "1h",
    "unless": {"event": "checkout", "within": "2h"},
    "group_by": "props.cart_id",
    "action": {
        "send": {
            "title": "Still thinking about it, {{ subscriber.tags.name | default('friend') }}?",
            "body": "Your cart of {{ event.props.items }} items is waiting.",
            "url": "https://shop.example/cart/{{ event.props.cart_id }}",
        }
    },
}


class Shop:
    def __init__(self, gateway: Gateway, site: Site, clock: Path, client: httpx.AsyncClient):
        self.gateway, self.site, self.clock, self.client = gateway, site, clock, client

    def at(self, seconds: float) -> None:
        FileClock.write(self.clock, START + seconds)

    async def event(self, name: str, user: str = "u1", **props: Any) -> None:
        body = {"name": name, "external_id": user, "props": props}
        answer = await self.client.post(
            "/api/v1/events", json=body, headers=self.site.admin_headers
        )
        assert answer.status_code == 202, answer.text

    async def trigger(self, definition: dict[str, Any]) -> str:
        answer = await self.client.post(
            "/api/v1/triggers", json=definition, headers=self.site.admin_headers
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    async def stats(self, trigger_id: str) -> dict[str, int]:
        answer = await self.client.get(
            f"/api/v1/triggers/{trigger_id}", headers=self.site.admin_headers
        )
        return dict(answer.json()["stats"])

    async def settle(self, trigger_id: str, **expected: int) -> dict[str, int]:
        """Wait (real time: the engine ticks every second) until the stats say `expected`."""
        deadline = time.monotonic() + 15
        while True:
            stats = await self.stats(trigger_id)
            if all(stats[k] == v for k, v in expected.items()):
                return stats
            if time.monotonic() > deadline:
                raise AssertionError(f"stats {stats}, expected {expected}")
            await asyncio.sleep(0.2)


@pytest.fixture
async def shop(push_service: LocalPushService, gateway_factory: Any, tmp_path: Path) -> Any:
    clock = tmp_path / "clock"
    FileClock.write(clock, START)
    gateway = gateway_factory(push_service.host_port, **{TEST_CLOCK_ENV: str(clock)})
    site = site_of(gateway)
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
        yield Shop(gateway, site, clock, client)


async def test_cart_abandonment_fires_after_the_delay_with_event_and_subscriber(
    shop: Shop, push_service: LocalPushService
) -> None:
    browser = push_service.new_browser()
    await subscribe_all(shop.client, shop.site, [browser], external_id="u1", tags={"name": "Ann"})
    trigger = await shop.trigger(CART_REMINDER)
    await shop.event("cart_add", cart_id="c1", items=3)
    await shop.settle(trigger, pending=1)
    shop.at(HOUR - 60)
    await asyncio.sleep(2.5)  # two ticks: not due yet
    assert (await shop.stats(trigger))["fired"] == 0 and browser.messages == []
    shop.at(HOUR + 1)
    await shop.settle(trigger, fired=1, pending=0)
    await browser.wait_for(1, timeout=15)
    shown = browser.messages[0].json()["notification"]
    assert shown["title"] == "Still thinking about it, Ann?"
    assert shown["body"] == "Your cart of 3 items is waiting."
    assert shown["navigate"] == "https://shop.example/cart/c1"


async def test_repeated_cart_events_restart_the_delay_and_send_one_reminder(
    shop: Shop, push_service: LocalPushService
) -> None:
    browser = push_service.new_browser()
    await subscribe_all(shop.client, shop.site, [browser], external_id="u1")
    trigger = await shop.trigger(CART_REMINDER)
    for minute, items in ((0, 1), (20, 2), (40, 3)):
        shop.at(minute * 60)
        await shop.event("cart_add", cart_id="c1", items=items)
    await shop.settle(trigger, pending=1)
    shop.at(HOUR + 30)  # an hour after the first update, but not after the last
    await asyncio.sleep(2.5)
    assert (await shop.stats(trigger))["fired"] == 0
    shop.at(40 * 60 + HOUR + 1)
    await shop.settle(trigger, fired=1, pending=0)
    await browser.wait_for(1, timeout=15)
    assert "3 items" in browser.messages[0].json()["notification"]["body"]
    await asyncio.sleep(2.5)
    assert len(browser.messages) == 1


async def test_checkout_before_the_delay_cancels_the_reminder(
    shop: Shop, push_service: LocalPushService
) -> None:
    browser = push_service.new_browser()
    await subscribe_all(shop.client, shop.site, [browser], external_id="u1")
    trigger = await shop.trigger(CART_REMINDER)
    await shop.event("cart_add", cart_id="c1", items=1)
    await shop.event("cart_add", cart_id="c2", items=1, user="u2")  # another user's cart
    shop.at(30 * 60)
    await shop.event("checkout", cart_id="c1")
    await shop.settle(trigger, cancelled=1, pending=1)
    shop.at(2 * HOUR)
    await shop.settle(trigger, fired=1, pending=0, cancelled=1)  # u2's reminder only
    await asyncio.sleep(2.5)
    assert browser.messages == []


async def test_set_tags_merges_into_the_users_subscriptions(
    shop: Shop, push_service: LocalPushService
) -> None:
    browser = push_service.new_browser()
    await subscribe_all(shop.client, shop.site, [browser], external_id="u1", tags={"a": 1})
    trigger = await shop.trigger(
        {
            "name": "sports reader",
            "when": {
                "event": "article_read",
                "filter": {"field": "event.props.section", "op": "eq", "value": "sports"},
            },
            "action": {"set_tags": {"topic": "{{ event.props.section }}", "a": None}},
        }
    )
    await shop.event("article_read", section="politics")
    await shop.event("article_read", section="sports")
    await shop.settle(trigger, fired=1)
    listed = await shop.client.get("/api/v1/subscriptions", headers=shop.site.admin_headers)
    assert listed.json()["data"][0]["tags"] == {"topic": "sports"}


async def test_a_run_fires_exactly_once_across_a_gateway_kill_and_restart(
    push_service: LocalPushService, gateway_factory: Any, tmp_path: Path
) -> None:
    clock = tmp_path / "clock"
    FileClock.write(clock, START)
    gateway = gateway_factory(push_service.host_port, **{TEST_CLOCK_ENV: str(clock)})
    site = site_of(gateway)
    browser = push_service.new_browser()
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
        shop = Shop(gateway, site, clock, client)
        await subscribe_all(client, site, [browser], external_id="u1")
        trigger = await shop.trigger(CART_REMINDER)
        await shop.event("cart_add", cart_id="c1", items=2)
        await shop.settle(trigger, pending=1)
    gateway.kill()  # SIGKILL: the pending run lives in the store
    gateway.start()
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
        shop = Shop(gateway, site, clock, client)
        assert (await shop.stats(trigger))["pending"] == 1
        shop.at(HOUR + 1)
        await shop.settle(trigger, fired=1, pending=0)
        await browser.wait_for(1, timeout=15)
        (sent,) = await notifications(client, site)
        await wait_until_done(client, site, sent["id"])  # its outcome recorded: no resend
        gateway.kill()
        gateway.start()
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
        await asyncio.sleep(2.5)
        assert (await Shop(gateway, site, clock, client).stats(trigger))["fired"] == 1
        assert len(await notifications(client, site)) == 1
    assert len(browser.messages) == 1


async def notifications(client: httpx.AsyncClient, site: Site) -> list[Any]:
    answer = await client.get("/api/v1/notifications", headers=site.admin_headers)
    return list(answer.json()["data"])
