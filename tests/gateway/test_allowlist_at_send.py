"""The allowlist is checked again when sending: a host taken off it gets nothing more."""

from __future__ import annotations

import httpx

from pushgate.testing import LocalPushService
from tests.conftest import UNUSED_PUSH_HOST, Site, subscribe_all, wait_until_done


async def test_push_host_removed_from_the_allowlist_gets_nothing(
    push_service: LocalPushService, gateway_factory
) -> None:
    gateway = gateway_factory(push_service.host_port, PUSHGATE_RATE_LIMIT_PER_CLIENT="0")
    created = gateway.create_site()
    site = Site(created["id"], created["api_key"], created["vapid_public_key"], gateway)
    browsers = [push_service.new_browser() for _ in range(3)]
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
        await subscribe_all(client, site, browsers)
        gateway.stop()
        gateway.allowed_push_hosts = UNUSED_PUSH_HOST  # the operator took the host off
        gateway.start()
        answer = await client.post(
            "/api/v1/notifications", json={"title": "t"}, headers=site.admin_headers
        )
        status = await wait_until_done(client, site, answer.json()["id"])
    assert status["counts"]["failed"] == 3 and status["counts"]["accepted"] == 0
    assert push_service.requests == []
