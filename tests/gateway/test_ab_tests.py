"""Message A/B tests end to end: a real gateway on the test clock, simulated browsers that
decrypt what they receive, clicks reported with the tokens from the payloads (as the service
worker reports them), and the winner sent to the rest once, across kill -9 restarts."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from pushgate.clock import TEST_CLOCK_ENV, FileClock
from pushgate.store import open_store
from pushgate.store.models import NewSubscription
from pushgate.testing import LocalPushService
from pushgate.testing.browser import SimulatedBrowser
from tests.conftest import ORIGIN, Gateway, Site, site_of, wait_until_done

START = 1_800_000_000.0
AUDIENCE = 500
SAMPLE_PERCENT = 20  # 100 of 500: 50 per variant
TIE_AUDIENCE = 20  # 50 %: 5 per variant, nobody clicks
WINNER_AFTER_SECONDS = 3600
CLICKS = (5, 10)  # per variant: B's rate is the better


def _request(sample_percent: int) -> dict[str, Any]:
    return {
        "title": "Base",
        "body": "the notification's own body",
        "url": "https://news.example/base",
        "variants": [{"title": "A"}, {"title": "B", "url": "https://news.example/b"}],
        "ab_test": {"sample_percent": sample_percent, "winner_after": "1h", "metric": "clicked"},
    }


def _titles(browsers: list[SimulatedBrowser]) -> Counter[str]:
    return Counter(m.json()["notification"]["title"] for b in browsers for m in b.messages)


async def _status(client: httpx.AsyncClient, site: Site, notification_id: str) -> dict[str, Any]:
    answer = await client.get(
        f"/api/v1/notifications/{notification_id}", headers=site.admin_headers
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def _until(client: httpx.AsyncClient, site: Site, notification_id: str, test: Any) -> None:
    for _ in range(600):
        if test(await _status(client, site, notification_id)):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(await _status(client, site, notification_id))


async def _click(client: httpx.AsyncClient, browsers: list[SimulatedBrowser], n: int) -> None:
    for browser in browsers[:n]:
        token = browser.messages[0].json()["pushgate"]["token"]
        for kind in ("delivered", "clicked"):
            answer = await client.post(
                "/v1/events", json={"token": token, "type": kind}, headers={"Origin": ORIGIN}
            )
            assert answer.status_code == 204, answer.text


async def _subscribe(gateway: Gateway, site: Site, browsers: list[SimulatedBrowser]) -> None:
    """Straight into the gateway's store: the subscribe route has tests of its own, and 520
    calls to it would cost this test seconds."""
    subs = [NewSubscription(b.endpoint, b.p256dh, b.auth) for b in browsers]
    async with open_store(gateway.database) as store:
        assert await store.add_subscriptions_bulk(site.id, subs) == len(browsers)


async def _restart(gateway: Gateway) -> None:
    gateway.kill()
    await asyncio.to_thread(gateway.start)


async def test_the_variant_with_more_clicks_goes_to_the_rest_once(
    push_service: LocalPushService, gateway_factory: Any, tmp_path: Path
) -> None:
    clock_file = tmp_path / "clock"
    FileClock.write(clock_file, START)
    gateway: Gateway = gateway_factory(push_service.host_port, **{TEST_CLOCK_ENV: str(clock_file)})
    site, tie_site = site_of(gateway, "ab"), site_of(gateway, "tie")
    browsers = [push_service.new_browser() for _ in range(AUDIENCE)]
    tie_browsers = [push_service.new_browser() for _ in range(TIE_AUDIENCE)]
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
        await _subscribe(gateway, site, browsers)
        await _subscribe(gateway, tie_site, tie_browsers)
        created = await client.post(
            "/api/v1/notifications", json=_request(SAMPLE_PERCENT), headers=site.admin_headers
        )
        assert created.status_code == 202, created.text
        tie = await client.post(
            "/api/v1/notifications", json=_request(50), headers=tie_site.admin_headers
        )
        assert tie.status_code == 202, tie.text
        ab_id, tie_id = created.json()["id"], tie.json()["id"]

        # The sample: 20 % of the audience, half each variant, each its own content.
        sample = AUDIENCE * SAMPLE_PERCENT // 100
        await _until(client, site, ab_id, lambda s: s["counts"]["accepted"] == sample)
        await _until(client, tie_site, tie_id, lambda s: s["counts"]["accepted"] == 10)
        await asyncio.sleep(0.5)  # nothing more may come before the winner is chosen
        assert sum(len(b.messages) for b in browsers) == sample
        assert all(len(b.messages) <= 1 for b in browsers)
        assert _titles(browsers) == {"A": sample // 2, "B": sample // 2}
        for message in push_service.received:
            assert message.decrypt_error is None
        by_variant = {
            title: [
                b
                for b in browsers
                if b.messages and b.messages[0].json()["notification"]["title"] == title
            ]
            for title in ("A", "B")
        }
        assert by_variant["B"][0].messages[0].json()["notification"]["navigate"] == (
            "https://news.example/b"
        )
        assert by_variant["A"][0].messages[0].json()["notification"]["body"] == (
            "the notification's own body"
        )
        status = await _status(client, site, ab_id)
        assert status["winner"] is None
        assert status["counts"]["pending"] == AUDIENCE - sample
        assert [v["counts"]["accepted"] for v in status["variants"]] == [sample // 2] * 2

        # Clicks make B the better; a crash before the choice loses nothing.
        await _click(client, by_variant["A"], CLICKS[0])
        await _click(client, by_variant["B"], CLICKS[1])
        await _restart(gateway)
        assert (await _status(client, site, ab_id))["winner"] is None

        FileClock.write(clock_file, START + WINNER_AFTER_SECONDS + 1)
        final = await wait_until_done(client, site, ab_id)
        tie_final = await wait_until_done(client, tie_site, tie_id)

        assert final["winner"] == 1
        assert all(len(b.messages) == 1 for b in browsers)
        assert _titles(browsers) == {"A": sample // 2, "B": AUDIENCE - sample // 2}
        assert final["counts"]["accepted"] == AUDIENCE
        a, b = (v["counts"] for v in final["variants"])
        assert (a["targeted"], a["accepted"], a["clicked"]) == (sample // 2, sample // 2, CLICKS[0])
        assert (b["targeted"], b["clicked"], b["delivered"]) == (
            AUDIENCE - sample // 2,
            CLICKS[1],
            CLICKS[1],
        )
        assert [v["notification"]["title"] for v in final["variants"]] == ["A", "B"]
        assert final["ab_test"] == {"sample_percent": 20, "winner_after": "1h", "metric": "clicked"}

        # A tie (nobody clicked) goes to the first variant.
        assert tie_final["winner"] == 0
        assert _titles(tie_browsers) == {"A": 15, "B": 5}

        # After the choice, a crash chooses nothing again and sends nothing twice; A's clicks
        # now outnumber B's, which changes nothing.
        await _click(client, by_variant["A"][CLICKS[0] :], 20)
        await _restart(gateway)
        FileClock.write(clock_file, START + 2 * WINNER_AFTER_SECONDS)
        await asyncio.sleep(1.5)
        assert (await _status(client, site, ab_id))["winner"] == 1
        assert all(len(b.messages) == 1 for b in browsers + tie_browsers)
