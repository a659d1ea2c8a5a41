"""Local-time delivery end to end, with the test clock: a real `pushgate serve` (whose
scheduling reads PUSHGATE_TEST_CLOCK_FILE), the local push service, simulated browsers that
decrypt what they get. The test moves time zone by zone through a DST-change day; the gateway
is SIGKILLed and started again mid-campaign and must lose nothing and send nothing twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from pushgate.clock import TEST_CLOCK_ENV, FileClock
from pushgate.testing import LocalPushService, SimulatedBrowser
from tests.conftest import Gateway, site_of, subscribe_all, wait_until_done

PER_ZONE = 3
TTL = 3600
SETTLE_SECONDS = 1.5  # longer than the engine's longest sleep: what would go early has gone


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


START = utc(2026, 3, 8, 0, 0)  # the US and Newfoundland spring forward this day
# Each zone's 07:00 after START, in the order they come (None: the site's default, UTC).
DUE = [
    ("Asia/Kathmandu", utc(2026, 3, 8, 1, 15)),  # +05:45
    ("Asia/Kolkata", utc(2026, 3, 8, 1, 30)),  # +05:30
    ("Europe/Berlin", utc(2026, 3, 8, 6, 0)),  # +01:00
    (None, utc(2026, 3, 8, 7, 0)),
    ("America/St_Johns", utc(2026, 3, 8, 9, 30)),  # -02:30 from 02:00 local
    ("America/New_York", utc(2026, 3, 8, 11, 0)),  # -04:00 from 02:00 local
    ("Australia/Lord_Howe", utc(2026, 3, 8, 20, 0)),  # +11:00; its 07:00 on the 8th had passed
]
KILL_AFTER = 3  # zones delivered before the SIGKILL


async def _subscribe(
    client: httpx.AsyncClient, site: Any, push_service: LocalPushService
) -> dict[str | None, list[SimulatedBrowser]]:
    by_zone: dict[str | None, list[SimulatedBrowser]] = {}
    for zone, _ in DUE:
        browsers = [push_service.new_browser() for _ in range(PER_ZONE)]
        extra: dict[str, Any] = {} if zone is None else {"timezone": zone}
        await subscribe_all(client, site, browsers, **extra)
        by_zone[zone] = browsers
    return by_zone


async def _settled_total(push_service: LocalPushService, expected: int) -> None:
    await push_service.wait_for_total(expected, timeout=30)
    await asyncio.sleep(SETTLE_SECONDS)
    assert len(push_service.received) == expected, "more arrived than was due"


async def test_morning_briefing_at_0700_local_across_zones_survives_a_sigkill(
    push_service: LocalPushService, gateway_factory: Any, tmp_path: Path
) -> None:
    clock_file = tmp_path / "clock"
    FileClock.write(clock_file, START)
    gateway: Gateway = gateway_factory(push_service.host_port, **{TEST_CLOCK_ENV: str(clock_file)})
    site = site_of(gateway)
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
        by_zone = await _subscribe(client, site, push_service)
        answer = await client.post(
            "/api/v1/notifications",
            json={"title": "Morning briefing", "deliver_at_local": "07:00", "ttl": TTL},
            headers=site.admin_headers,
        )
        assert answer.status_code == 202, answer.text
        notification_id = answer.json()["id"]
        assert answer.json()["status"] == "scheduled"
        await _settled_total(push_service, 0)

        delivered = 0
        for index, (zone, due) in enumerate(DUE):
            FileClock.write(clock_file, due - 60)  # a minute early: nothing more goes
            await _settled_total(push_service, delivered)
            FileClock.write(clock_file, due)
            delivered += PER_ZONE
            await _settled_total(push_service, delivered)
            assert all(len(b.messages) == 1 for b in by_zone[zone]), f"{zone}: not all got it"
            if index + 1 == KILL_AFTER:
                gateway.kill()
                await asyncio.to_thread(gateway.start)
            status = await client.get(
                f"/api/v1/notifications/{notification_id}", headers=site.admin_headers
            )
            assert status.json()["status"] in ("sending", "done")
        final = await wait_until_done(client, site, notification_id)

    everyone = [b for browsers in by_zone.values() for b in browsers]
    assert Counter(len(b.messages) for b in everyone) == {1: len(everyone)}
    for message in push_service.received:
        assert message.decrypt_error is None
        assert message.json()["notification"]["title"] == "Morning briefing"
    # Each went at its local time, so with the whole TTL left (RFC 8030 §5.2).
    assert {r.headers["TTL"] for r in push_service.requests} == {str(TTL)}
    assert final["counts"] | {"delivered": 0} == {
        "targeted": len(everyone),
        "accepted": len(everyone),
        "failed": 0,
        "gone": 0,
        "pending": 0,
        "capped": 0,
        "cancelled": 0,
        "delivered": 0,
        "clicked": 0,
        "dismissed": 0,
    }
