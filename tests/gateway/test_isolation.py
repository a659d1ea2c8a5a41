"""One slow or hanging push service must only slow its own subscribers (issue #8)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from pushgate.testing import Fault, LocalPushService
from tests.conftest import Site, site_of, subscribe_all, wait_until_done

HEALTHY = 2000
SLOW = 200


async def _send(client: httpx.AsyncClient, site: Site, audience: dict[str, Any]) -> str:
    answer = await client.post(
        "/api/v1/notifications",
        json={"title": "Breaking", "audience": audience},
        headers=site.admin_headers,
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


async def _seconds_until(service: LocalPushService, total: int, since: float) -> float:
    await service.wait_for_total(total, timeout=60)
    return time.monotonic() - since


async def _service_state(client: httpx.AsyncClient, service: str) -> str | None:
    health = (await client.get("/healthz")).json()
    return health.get("push_services", {}).get(service)


async def _subscribe_mixed(
    client: httpx.AsyncClient, site: Site, fast: list[Any], other: list[Any]
) -> None:
    """Subscribe both groups interleaved, so every batch of the broadcast mixes services."""
    tagged = [(b, "fast") for b in fast] + [(b, "other") for b in other]
    random.Random(8).shuffle(tagged)
    for group in ("fast", "other"):
        browsers = [b for b, g in tagged if g == group]
        await subscribe_all(client, site, browsers, tags={"group": group})


async def _alone_seconds(client: httpx.AsyncClient, site: Site, healthy: LocalPushService) -> float:
    started = time.monotonic()
    await _send(client, site, {"tags": {"group": "fast"}})
    return await _seconds_until(healthy, HEALTHY, started)


async def test_slow_push_service_keeps_its_delay_to_its_own_subscribers(gateway_factory) -> None:
    async with LocalPushService() as healthy, LocalPushService() as slow:
        gateway = gateway_factory(f"{healthy.host_port},{slow.host_port}")
        site = site_of(gateway)
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
            fast = [healthy.new_browser() for _ in range(HEALTHY)]
            late = [slow.new_browser() for _ in range(SLOW)]
            await _subscribe_mixed(client, site, fast, late)
            alone = await _alone_seconds(client, site, healthy)

            slow.inject(Fault(status=201, delay=20))  # accepts every push, after 20 s
            started = time.monotonic()
            notification_id = await _send(client, site, {"all": True})
            mixed = await _seconds_until(healthy, 2 * HEALTHY, started)
            assert mixed <= 2 * alone + 1.0, f"healthy part took {mixed:.1f} s, {alone:.1f} alone"

            states = set()
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline and "degraded" not in states:
                states.add(await _service_state(client, slow.host_port))
                await asyncio.sleep(0.5)
            assert "degraded" in states, f"/healthz showed {states}"

            status = await wait_until_done(client, site, notification_id, timeout=180)
            await asyncio.sleep(1)
            assert status["counts"]["accepted"] == HEALTHY + SLOW
            assert [len(b.messages) for b in fast] == [2] * HEALTHY  # the alone run and this
            copies = [len(b.messages) for b in late]
            assert min(copies) >= 1
            assert sum(copies) / SLOW <= 1.2, f"{sum(copies)} copies for {SLOW} subscribers"
            assert late[0].messages[0].json()["notification"]["title"] == "Breaking"


@contextlib.asynccontextmanager
async def _silent_push_service() -> AsyncIterator[tuple[str, list[int]]]:
    """A push service that accepts connections and reads requests but never answers."""
    connections: list[int] = []
    writers: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        writers.append(writer)
        with contextlib.suppress(ConnectionError):
            while await reader.read(65536):
                pass

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}", connections
    finally:
        server.close()
        for writer in writers:
            writer.close()


async def test_hanging_push_service_does_not_hold_up_the_others(gateway_factory) -> None:
    async with LocalPushService() as healthy, _silent_push_service() as (silent, connections):
        gateway = gateway_factory(f"{healthy.host_port},{silent}")
        site = site_of(gateway)
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
            fast = [healthy.new_browser() for _ in range(HEALTHY)]
            hung = [healthy.new_browser() for _ in range(SLOW)]
            for browser in hung:  # same keys, but their push service never answers
                browser.endpoint = browser.endpoint.replace(healthy.host_port, silent)
            await _subscribe_mixed(client, site, fast, hung)
            alone = await _alone_seconds(client, site, healthy)

            started = time.monotonic()
            await _send(client, site, {"all": True})
            mixed = await _seconds_until(healthy, 2 * HEALTHY, started)
            assert mixed <= 2 * alone + 1.0, f"healthy part took {mixed:.1f} s, {alone:.1f} alone"
            assert connections, "the hanging service was never tried"

            deadline = time.monotonic() + 40
            state = None
            while time.monotonic() < deadline and state not in ("degraded", "down"):
                state = await _service_state(client, silent)
                await asyncio.sleep(0.5)
            assert state in ("degraded", "down")
            assert await _service_state(client, healthy.host_port) == "ok"
