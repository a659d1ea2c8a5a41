"""`throttle_per_minute` across a restart, end to end with the test clock: a real `pushgate
serve` killed (SIGKILL) and started again within the same second of a throttled send must not
hand over a second share in that second, since the window is read back from the store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from pushgate.clock import TEST_CLOCK_ENV, FileClock
from pushgate.testing import LocalPushService
from tests.conftest import Gateway, site_of, subscribe_all, wait_until_done
from tests.scheduling.test_rules_delivery import Setup, utc

BROWSERS = 6
PER_MINUTE = 120  # 2 a second


async def test_a_restart_mid_throttle_does_not_exceed_the_rate(
    push_service: LocalPushService, gateway_factory: Any, tmp_path: Path
) -> None:
    now = utc(2026, 6, 1, 12, 0)
    clock_file = tmp_path / "clock"
    FileClock.write(clock_file, now)
    gateway: Gateway = gateway_factory(push_service.host_port, **{TEST_CLOCK_ENV: str(clock_file)})
    site = site_of(gateway)
    browsers = [push_service.new_browser() for _ in range(BROWSERS)]
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
        await subscribe_all(client, site, browsers)
        setup = Setup(client, site, push_service, clock_file, browsers)
        notification = await setup.send(throttle_per_minute=PER_MINUTE)
        await setup.received(2)
        await asyncio.wait_for(_accepted(setup, notification, 2), 30)  # recorded: now crash
        gateway.kill()
        await asyncio.to_thread(gateway.start)
        await setup.received(2)  # the same second: its share has gone already

        for second, total in enumerate((4, 6, 6), start=1):
            setup.at(now + second)
            await setup.received(total)
        final = await wait_until_done(client, site, notification)
    assert final["counts"]["accepted"] == BROWSERS
    assert all(len(b.messages) == 1 for b in browsers)
    for message in push_service.received:
        assert message.decrypt_error is None
        assert message.json()["notification"]["title"] == "t"


async def _accepted(setup: Setup, notification: str, count: int) -> None:
    while (await setup.status(notification))["counts"]["accepted"] < count:
        await asyncio.sleep(0.05)
