"""Cancel mid-way: what the send workers hold but have not put on the wire never goes."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from pushgate.testing import Fault, LocalPushService
from tests.conftest import site_of, subscribe_all

AUDIENCE = 300
ON_THE_WIRE = 2  # PUSHGATE_MAX_IN_FLIGHT_PER_HOST with one send worker
# What may still go after the cancel: the requests on the wire, and those encrypted and waiting
# for a connection (the worker encrypts at most twice the wire limit ahead, per push service).
MAY_STILL_GO = ON_THE_WIRE + 2 * ON_THE_WIRE


async def _wait_settled(
    client: httpx.AsyncClient, headers: dict[str, str], notification_id: str
) -> dict[str, Any]:
    """The notification once nothing of it is pending any more."""
    for _ in range(300):
        answer = await client.get(f"/api/v1/notifications/{notification_id}", headers=headers)
        status: dict[str, Any] = answer.json()
        if status["counts"]["pending"] == 0:
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"deliveries still pending 30 s after the cancel: {status}")


async def test_cancel_withdraws_what_the_workers_hold(
    push_service: LocalPushService, gateway_factory
) -> None:
    gateway = gateway_factory(
        push_service.host_port,
        PUSHGATE_MAX_IN_FLIGHT_PER_HOST=str(ON_THE_WIRE),
        PUSHGATE_SEND_WORKERS="1",
    )
    site = site_of(gateway)
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
        browsers = [push_service.new_browser() for _ in range(AUDIENCE)]
        await subscribe_all(client, site, browsers)
        # 0.2 s an answer on 2 connections: 10 a second, so the whole job sits in the worker.
        push_service.inject(Fault(status=201, delay=0.2))
        sent = await client.post(
            "/api/v1/notifications",
            json={"title": "t", "audience": {"all": True}},
            headers=site.admin_headers,
        )
        assert sent.status_code == 202, sent.text
        notification_id = sent.json()["id"]
        await push_service.wait_for_total(10, timeout=30)
        cancelled = await client.post(
            f"/api/v1/notifications/{notification_id}/cancel", headers=site.admin_headers
        )
        at_cancel = len(push_service.received)
        assert cancelled.status_code == 200, cancelled.text
        status = await _wait_settled(client, site.admin_headers, notification_id)
        await asyncio.sleep(1.0)  # anything still queued anywhere would arrive meanwhile

    received = len(push_service.received)
    assert received < AUDIENCE
    assert received - at_cancel <= MAY_STILL_GO, f"{received - at_cancel} sent after the cancel"
    counts = status["counts"]
    assert status["status"] == "cancelled"
    assert counts["pending"] == 0
    assert counts["accepted"] == received
    assert counts["accepted"] + counts["cancelled"] == AUDIENCE == counts["targeted"]
