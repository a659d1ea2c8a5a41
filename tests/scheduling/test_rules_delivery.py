"""The site's rules, the throttle and cancelling, end to end with the test clock: a real
`pushgate serve` whose scheduling reads PUSHGATE_TEST_CLOCK_FILE, the local push service and
simulated browsers. Time moves only when the test writes the clock file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from pushgate.clock import TEST_CLOCK_ENV, FileClock
from pushgate.testing import Fault, LocalPushService, SimulatedBrowser
from tests.conftest import Site, site_of, subscribe_all, wait_until_done

SETTLE_SECONDS = 1.5  # longer than the engine's longest sleep: what would go early has gone


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


async def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


@dataclass
class Setup:
    client: httpx.AsyncClient
    site: Site
    push: LocalPushService
    clock_file: Path
    browsers: list[SimulatedBrowser]

    def at(self, now: float) -> None:
        FileClock.write(self.clock_file, now)

    async def send(self, **fields: Any) -> str:
        answer = await self.client.post(
            "/api/v1/notifications", json={"title": "t", **fields}, headers=self.site.admin_headers
        )
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])

    async def status(self, notification_id: str) -> dict[str, Any]:
        answer = await self.client.get(
            f"/api/v1/notifications/{notification_id}", headers=self.site.admin_headers
        )
        return dict(answer.json())

    async def received(self, expected: int) -> None:
        """Exactly `expected` messages in all, and no more after the engine had time to act."""
        await self.push.wait_for_total(expected, timeout=30)
        await asyncio.sleep(SETTLE_SECONDS)
        assert len(self.push.received) == expected, "more arrived than was due"


@pytest.fixture
async def setup(
    push_service: LocalPushService, gateway_factory: Any, tmp_path: Path
) -> AsyncIterator[Setup]:
    clock_file = tmp_path / "clock"
    FileClock.write(clock_file, utc(2026, 6, 1, 21, 30))
    gateway = gateway_factory(push_service.host_port, **{TEST_CLOCK_ENV: str(clock_file)})
    site = site_of(gateway)
    browsers = [push_service.new_browser() for _ in range(4)]
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
        await subscribe_all(client, site, browsers)
        yield Setup(client, site, push_service, clock_file, browsers)


async def test_quiet_hours_across_midnight_and_a_rolling_frequency_cap(setup: Setup) -> None:
    rules = {
        "quiet_hours": {"start": "22:00", "end": "08:00"},
        "frequency_cap": {"max": 1, "period": "24h"},
    }
    patched = await setup.client.patch("/api/v1/site", json=rules, headers=setup.site.admin_headers)
    assert patched.status_code == 200, patched.text
    first = await setup.send()  # 21:30 UTC (the site's default zone): not quiet yet
    await setup.received(4)

    setup.at(utc(2026, 6, 1, 23, 0))
    quiet = await setup.send()
    setup.at(utc(2026, 6, 2, 7, 59))
    await setup.received(4)  # held until the quiet hours end
    setup.at(utc(2026, 6, 2, 8, 0))  # due now, but each had 1 within 24 h: capped
    counts = (await wait_until_done(setup.client, setup.site, quiet))["counts"]
    assert (counts["targeted"], counts["capped"], counts["accepted"]) == (4, 4, 0)

    breaking = await setup.send(ignore_frequency_cap=True)
    await setup.received(8)
    assert (await wait_until_done(setup.client, setup.site, breaking))["counts"]["accepted"] == 4

    setup.at(utc(2026, 6, 3, 7, 0))  # 21:30 on the 1st is out of the window; 08:00 on the 2nd not
    later = await setup.send(ignore_quiet_hours=True)
    capped = (await wait_until_done(setup.client, setup.site, later))["counts"]
    assert (capped["capped"], capped["accepted"]) == (4, 0)  # the breaking news counted

    setup.at(utc(2026, 6, 3, 9, 0))  # now both are older than 24 h
    last = await setup.send()
    await setup.received(12)
    assert (await wait_until_done(setup.client, setup.site, last))["counts"]["accepted"] == 4
    assert [len(b.messages) for b in setup.browsers] == [3] * 4
    assert (await setup.status(first))["counts"]["accepted"] == 4


async def test_a_retry_that_falls_into_quiet_hours_waits_until_they_end(setup: Setup) -> None:
    rules = {"quiet_hours": {"start": "22:00", "end": "08:00"}}
    patched = await setup.client.patch("/api/v1/site", json=rules, headers=setup.site.admin_headers)
    assert patched.status_code == 200, patched.text
    setup.at(utc(2026, 6, 1, 21, 59))  # one minute before the quiet hours (UTC, the default)
    setup.push.inject(Fault(status=429, times=4, retry_after="120"))
    notification = await setup.send()
    await wait_for(lambda: len(setup.push.requests) == 4)  # each refused once: retry at ~22:01
    setup.at(utc(2026, 6, 1, 22, 5))  # the retries are due, inside the quiet hours
    await setup.received(0)
    assert len(setup.push.requests) == 4, "a retry went out inside the quiet hours"
    setup.at(utc(2026, 6, 2, 7, 59))
    await setup.received(0)
    setup.at(utc(2026, 6, 2, 8, 0))
    await setup.received(4)
    counts = (await wait_until_done(setup.client, setup.site, notification))["counts"]
    assert (counts["accepted"], counts["pending"]) == (4, 0)


async def test_throttle_hands_at_most_n_over_60_a_second(setup: Setup) -> None:
    now = utc(2026, 6, 1, 21, 30)
    notification = await setup.send(throttle_per_minute=120)  # 2 a second
    for second, total in enumerate((2, 4, 4)):
        setup.at(now + second)
        await setup.received(total)
    status = await wait_until_done(setup.client, setup.site, notification)
    assert status["counts"]["accepted"] == 4
    assert all(len(b.messages) == 1 for b in setup.browsers)


async def test_cancel_mid_way_sends_no_more_and_counts_the_rest_cancelled(setup: Setup) -> None:
    now = utc(2026, 6, 1, 21, 30)
    notification = await setup.send(throttle_per_minute=60)  # 1 a second
    await setup.received(1)
    answer = await setup.client.post(
        f"/api/v1/notifications/{notification}/cancel", headers=setup.site.admin_headers
    )
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
    setup.at(now + 10)
    await setup.received(1)
    counts = (await setup.status(notification))["counts"]
    assert (counts["accepted"], counts["cancelled"], counts["pending"]) == (1, 3, 0)
    assert counts["targeted"] == 4
    again = await setup.client.post(
        f"/api/v1/notifications/{notification}/cancel", headers=setup.site.admin_headers
    )
    assert again.status_code == 200 and again.json()["counts"] == counts


async def test_cancel_before_send_at_targets_nobody_and_sends_nothing(setup: Setup) -> None:
    notification = await setup.send(send_at="2026-06-01T22:00:00Z")
    listed = await setup.client.get(
        "/api/v1/notifications?status=scheduled", headers=setup.site.admin_headers
    )
    assert [n["id"] for n in listed.json()["data"]] == [notification]
    answer = await setup.client.post(
        f"/api/v1/notifications/{notification}/cancel", headers=setup.site.admin_headers
    )
    assert answer.status_code == 200 and set(answer.json()["counts"].values()) == {0}
    setup.at(utc(2026, 6, 1, 22, 1))
    await setup.received(0)
    done = await setup.send()  # a plain one goes, and a done notification is not cancellable
    await wait_until_done(setup.client, setup.site, done)
    refused = await setup.client.post(
        f"/api/v1/notifications/{done}/cancel", headers=setup.site.admin_headers
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_cancellable"
