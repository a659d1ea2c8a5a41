"""An engine that cannot renew its leases gives up what it holds before others may claim it.

The database is locked from the test (SQLite: an exclusive transaction; PostgreSQL: an
exclusive table lock on deliveries) for longer than the lease, while the only send worker holds
a slow broadcast's messages. The engine must stop sending them before its leases end (only what
is on the wire, or encrypted for it, may still go), then claim them again once the database
answers: every subscriber gets the notification exactly once, decrypted.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest

from pushgate.testing import Fault, LocalPushService
from tests.conftest import BACKEND, Gateway, free_port, site_of, subscribe_all, wait_until_done

AUDIENCE = 200
LEASE_SECONDS = 3.0  # the shortest allowed: renewed every second, given up 0.5 s before its end
ON_THE_WIRE = 2
MAY_STILL_GO = ON_THE_WIRE + 2 * ON_THE_WIRE  # on the wire, and encrypted ahead for it
LAPSED = "leases not renewed in time"


@asynccontextmanager
async def database_locked(database: str) -> AsyncIterator[None]:
    """No write to deliveries gets through while inside."""
    if database.startswith("sqlite:///"):
        db = sqlite3.connect(database.removeprefix("sqlite:///"), isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            db.execute("ROLLBACK")
            db.close()
        return
    conn = await asyncpg.connect(database)
    try:
        async with conn.transaction():
            await conn.execute("LOCK TABLE deliveries IN EXCLUSIVE MODE")
            yield
    finally:
        await conn.close()


@pytest.fixture
def gateway(tmp_path: Path, push_service: LocalPushService, request: pytest.FixtureRequest):
    if BACKEND == "postgresql":
        database = request.getfixturevalue("postgres_cluster").create_database()
    else:
        database = f"sqlite:///{tmp_path / 'pushgate.db'}"
    gateway = Gateway(
        database,
        free_port(),
        push_service.host_port,
        extra_env={
            "PUSHGATE_LEASE_SECONDS": str(LEASE_SECONDS),
            "PUSHGATE_MAX_IN_FLIGHT_PER_HOST": str(ON_THE_WIRE),
            "PUSHGATE_SEND_WORKERS": "1",
        },
        log_path=tmp_path / "gateway.log",
    )
    gateway.start()
    yield gateway
    gateway.stop()


async def _wait_for_log(path: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        assert time.monotonic() < deadline, f"{text!r} not logged within {timeout} s"
        await asyncio.sleep(0.05)


async def test_leases_that_cannot_be_renewed_are_given_up_in_time_and_nothing_is_lost(
    gateway: Gateway, push_service: LocalPushService
) -> None:
    site = site_of(gateway)
    assert gateway.log_path is not None
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
        browsers = [push_service.new_browser() for _ in range(AUDIENCE)]
        await subscribe_all(client, site, browsers)
        # 0.2 s an answer on 2 connections: 10 a second, so the broadcast sits in the worker.
        push_service.inject(Fault(status=201, delay=0.2))
        sent = await client.post(
            "/api/v1/notifications", json={"title": "held"}, headers=site.admin_headers
        )
        assert sent.status_code == 202, sent.text
        await push_service.wait_for_total(10, timeout=30)
        async with database_locked(gateway.database):
            await _wait_for_log(gateway.log_path, LAPSED, timeout=LEASE_SECONDS * 2)
            at_lapse = len(push_service.received)
            await asyncio.sleep(LEASE_SECONDS)  # past the lease: another engine could claim
            after = len(push_service.received)
        assert after - at_lapse <= MAY_STILL_GO, f"{after - at_lapse} sent after the lapse"
        assert after < AUDIENCE
        push_service.clear_faults()
        counts = (await wait_until_done(client, site, sent.json()["id"], timeout=120))["counts"]

    assert counts["accepted"] == AUDIENCE == counts["targeted"], counts
    assert len(push_service.received) == AUDIENCE  # each subscriber once: nothing sent twice
    assert all(len(b.messages) == 1 for b in browsers)
    assert all(b.messages[0].json()["notification"]["title"] == "held" for b in browsers)
