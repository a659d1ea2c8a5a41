"""Two `pushgate serve` processes on one PostgreSQL database, as a site that outgrew one machine
runs them: a broadcast's work is shared, a gateway killed mid-way has its leased work taken
over by the other after the lease, and a throttled notification runs in one place at a time.
Real processes, the local push service, decrypted payloads."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pushgate.clock import TEST_CLOCK_ENV, FileClock
from pushgate.testing import Fault, LocalPushService
from tests.conftest import Gateway, free_port, site_of, subscribe_all, wait_until_done

pytestmark = pytest.mark.own_database  # always PostgreSQL

LEASE_SECONDS = 3
SUBSCRIBERS = 2_000
IN_FLIGHT_PER_HOST = 50  # per gateway: with a slow push service, a broadcast takes seconds
NOW = 1_780_000_000.0


def _gateways(url: str, push: LocalPushService, folder: Path, **env: str) -> list[Gateway]:
    return [
        Gateway(
            database=url,
            port=free_port(),
            allowed_push_hosts=push.host_port,
            extra_env={
                "PUSHGATE_LEASE_SECONDS": str(LEASE_SECONDS),
                "PUSHGATE_LOG_LEVEL": "info",
                "PUSHGATE_SEND_WORKERS": "1",
                "PUSHGATE_MAX_IN_FLIGHT_PER_HOST": str(IN_FLIGHT_PER_HOST),
                **env,
            },
            log_path=folder / f"gateway-{i}.log",
        )
        for i in range(2)
    ]


@pytest.fixture
def pair(
    postgres_url: str, push_service: LocalPushService, tmp_path: Path
) -> Iterator[list[Gateway]]:
    gateways = _gateways(postgres_url, push_service, tmp_path)
    for gateway in gateways:
        gateway.start()
    yield gateways
    for gateway in gateways:
        gateway.stop()


async def _send(client: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> str:
    answer = await client.post(
        "/api/v1/notifications", json={"title": "cluster", **fields}, headers=headers
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


async def test_two_gateways_share_a_broadcast_and_take_over_a_killed_ones_leases(
    pair: list[Gateway], push_service: LocalPushService
) -> None:
    first, second = pair
    site = site_of(first)
    browsers = [push_service.new_browser() for _ in range(SUBSCRIBERS)]
    async with (
        httpx.AsyncClient(base_url=first.base_url, timeout=30) as one,
        httpx.AsyncClient(base_url=second.base_url, timeout=30) as two,
    ):
        await subscribe_all(two, site, browsers)  # either gateway takes subscribes
        push_service.inject(Fault(status=201, delay=0.2))  # accepted, after 200 ms each
        notification = await _send(one, site.admin_headers)
        await push_service.wait_for_total(SUBSCRIBERS // 4, timeout=60)
        second.kill()  # SIGKILL mid-broadcast: its claimed deliveries stay leased
        status = await wait_until_done(one, site, notification, timeout=120)
    counts = status["counts"]
    assert counts["targeted"] == SUBSCRIBERS and counts["accepted"] == SUBSCRIBERS, counts
    assert all(b.messages for b in browsers), "a subscriber was lost"
    for message in push_service.received:
        assert message.decrypt_error is None, message.decrypt_error
        assert message.json()["pushgate"]["id"] == notification
    duplicates = len(push_service.received) - SUBSCRIBERS
    # Only what the killed gateway held (answered, not yet recorded) may go twice.
    assert duplicates <= 4 * IN_FLIGHT_PER_HOST, duplicates
    logs = [g.log_path.read_text() for g in pair if g.log_path]
    assert all(f"notification {notification}: delivery starts" in log for log in logs), (
        "both gateways should have worked on the broadcast"
    )


async def test_a_throttled_notification_runs_in_one_gateway_at_a_time(
    postgres_url: str, push_service: LocalPushService, tmp_path: Path
) -> None:
    clock_file = tmp_path / "clock"
    FileClock.write(clock_file, NOW)
    gateways = _gateways(postgres_url, push_service, tmp_path, **{TEST_CLOCK_ENV: str(clock_file)})
    for gateway in gateways:
        gateway.start()
    try:
        site = site_of(gateways[0])
        browsers = [push_service.new_browser() for _ in range(6)]
        async with httpx.AsyncClient(base_url=gateways[1].base_url, timeout=30) as client:
            await subscribe_all(client, site, browsers)
            notification = await _send(client, site.admin_headers, throttle_per_minute=120)
            for second, total in enumerate((2, 4, 6)):
                FileClock.write(clock_file, NOW + second)
                await push_service.wait_for_total(total, timeout=30)
                await asyncio.sleep(1.5)  # what a second runner would send goes meanwhile
                assert len(push_service.received) == total, "two gateways ran the throttle"
            status = await wait_until_done(client, site, notification)
        assert status["counts"]["accepted"] == 6
    finally:
        for gateway in gateways:
            gateway.stop()


async def _slow_broadcast_under_way(
    client: httpx.AsyncClient, site: Any, push_service: LocalPushService
) -> str:
    """A broadcast to SUBSCRIBERS new subscribers, answered after 200 ms each, a quarter sent."""
    browsers = [push_service.new_browser() for _ in range(SUBSCRIBERS)]
    await subscribe_all(client, site, browsers)
    push_service.inject(Fault(status=201, delay=0.2))
    notification = await _send(client, site.admin_headers)
    await push_service.wait_for_total(SUBSCRIBERS // 4, timeout=60)
    return notification


async def _cancel(client: httpx.AsyncClient, site: Any, notification: str) -> None:
    url = f"/api/v1/notifications/{notification}/cancel"
    cancelled = await client.post(url, headers=site.admin_headers)
    assert cancelled.status_code == 200, cancelled.text


async def _settled(client: httpx.AsyncClient, site: Any, notification: str) -> dict[str, Any]:
    """The notification's counts once nothing of it is pending (a cancel settles in-flight)."""
    for _ in range(600):
        answer = await client.get(
            f"/api/v1/notifications/{notification}", headers=site.admin_headers
        )
        counts: dict[str, Any] = answer.json()["counts"]
        if counts["pending"] == 0:
            return counts
        await asyncio.sleep(0.1)
    raise AssertionError(f"still pending 60 s after the cancel: {counts}")


async def test_a_cancel_counts_only_what_was_not_sent_while_both_gateways_hold_work(
    pair: list[Gateway], push_service: LocalPushService
) -> None:
    first, second = pair
    site = site_of(first)
    async with httpx.AsyncClient(base_url=first.base_url, timeout=30) as client:
        notification = await _slow_broadcast_under_way(client, site, push_service)
        await _cancel(client, site, notification)
        counts = await _settled(client, site, notification)
        await asyncio.sleep(1.0)  # anything still on its way would arrive meanwhile
        counts = await _settled(client, site, notification)
    received = len(push_service.received)
    assert received < SUBSCRIBERS
    # Each gateway counts what it held and did not send; what the other still had on the
    # wire is the other's to record as accepted, not cancelled here.
    assert counts["accepted"] == received, (counts, received)
    assert counts["accepted"] + counts["cancelled"] == SUBSCRIBERS == counts["targeted"], counts
    logs = [g.log_path.read_text() for g in pair if g.log_path]
    assert all(f"notification {notification}: delivery starts" in log for log in logs)


async def test_a_cancelled_notifications_work_held_by_a_killed_gateway_is_cancelled_after_the_lease(
    pair: list[Gateway], push_service: LocalPushService
) -> None:
    first, second = pair
    site = site_of(first)
    async with httpx.AsyncClient(base_url=first.base_url, timeout=30) as client:
        notification = await _slow_broadcast_under_way(client, site, push_service)
        second.kill()  # its leased deliveries stay pending until the lease runs out
        await _cancel(client, site, notification)
        counts = await _settled(client, site, notification)
    received = len(push_service.received)
    # What the killed gateway sent but never recorded counts cancelled: it cannot be known.
    assert counts["accepted"] <= received
    assert counts["accepted"] + counts["cancelled"] == SUBSCRIBERS == counts["targeted"], counts
