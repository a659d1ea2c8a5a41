"""The cluster of issue #10: two `pushgate serve` and three `pushgate worker` processes on one
PostgreSQL database. A 100,000-subscriber broadcast reaches every subscriber exactly once,
decrypted; a second one does too, but for the killed worker's in-flight window, while one worker
is SIGKILLed mid-way, and the API's counts equal what the push service saw. Two gateways given
the same Idempotency-Key at the same moment make one notification."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from pushgate.delivery.outcomes import FLUSH_AT_COUNT
from pushgate.delivery.sender_process import REPORT_AT_COUNT
from pushgate.store import open_store
from pushgate.store.models import NewSubscription
from pushgate.testing import LocalPushService, SimulatedBrowser
from tests.conftest import Gateway, Site, free_port, pushgate_command, site_of, wait_until_done

pytestmark = pytest.mark.own_database  # always PostgreSQL

SUBSCRIBERS = 100_000
BULK_CHUNK = 20_000
LEASE_SECONDS = 10
MAX_IN_FLIGHT = 32  # per process (one send worker each): the local push service is in-process
# What a killed worker may have sent and not recorded: its requests on the wire, the answers
# its send worker had not reported yet, and the outcomes its writer had not flushed.
KILLED_WINDOW = MAX_IN_FLIGHT + REPORT_AT_COUNT + FLUSH_AT_COUNT


@dataclass
class Worker:
    """A `pushgate worker` process: delivery only, no HTTP."""

    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(pushgate_command("worker"), env=self.env, stderr=log)
        deadline = time.monotonic() + 30
        while "pushgate worker delivering" not in self.log_path.read_text():
            assert self.process.poll() is None, self.log_path.read_text()[-2000:]
            assert time.monotonic() < deadline, "worker did not start within 30 s"
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Cluster:
    gateways: list[Gateway]
    workers: list[Worker]


@pytest.fixture
def cluster(postgres_url: str, push_service: LocalPushService, tmp_path: Path) -> Iterator[Cluster]:
    tuning = {
        "PUSHGATE_LEASE_SECONDS": str(LEASE_SECONDS),
        "PUSHGATE_SEND_WORKERS": "1",
        "PUSHGATE_MAX_IN_FLIGHT_PER_HOST": str(MAX_IN_FLIGHT),
        "PUSHGATE_LOG_LEVEL": "info",
    }
    gateways = [
        Gateway(
            database=postgres_url,
            port=free_port(),
            allowed_push_hosts=push_service.host_port,
            extra_env={**tuning, "PUSHGATE_NO_DELIVER": "1"} if i else tuning,
            log_path=tmp_path / f"serve-{i}.log",
        )
        for i in range(2)
    ]
    for gateway in gateways:
        gateway.start()
    workers = [
        Worker(gateways[0].env | {"PUSHGATE_PORT": "1"}, tmp_path / f"worker-{i}.log")
        for i in range(3)
    ]
    for worker in workers:
        worker.start()
    yield Cluster(gateways, workers)
    for worker in workers:
        worker.stop()
    for gateway in gateways:
        gateway.stop()


async def _fill(database: str, site_id: str, browsers: list[SimulatedBrowser]) -> None:
    """Straight into the store: 100,000 subscribe calls would take minutes (and the subscribe
    path has tests of its own, on both backends)."""
    async with open_store(database) as store:
        for start in range(0, len(browsers), BULK_CHUNK):
            chunk = browsers[start : start + BULK_CHUNK]
            subs = [NewSubscription(b.endpoint, b.p256dh, b.auth) for b in chunk]
            assert await store.add_subscriptions_bulk(site_id, subs) == len(chunk)


async def _broadcast(client: httpx.AsyncClient, headers: dict[str, str], title: str) -> str:
    answer = await client.post("/api/v1/notifications", json={"title": title}, headers=headers)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def _copies(browsers: list[SimulatedBrowser], notification_id: str) -> Counter[int]:
    """How many subscribers got how many copies of this notification."""
    return Counter(
        sum(1 for m in b.messages if m.json()["pushgate"]["id"] == notification_id)
        for b in browsers
    )


async def _filled_site(
    cluster: Cluster, push_service: LocalPushService
) -> tuple[Site, list[SimulatedBrowser]]:
    site = site_of(cluster.gateways[0])
    browsers = [push_service.new_browser() for _ in range(SUBSCRIBERS)]
    await _fill(cluster.gateways[0].database, site.id, browsers)
    return site, browsers


async def test_two_gateways_and_three_workers_broadcast_to_100000_exactly_once(
    cluster: Cluster, push_service: LocalPushService
) -> None:
    site, browsers = await _filled_site(cluster, push_service)
    async with httpx.AsyncClient(base_url=cluster.gateways[1].base_url, timeout=30) as client:
        first = await _broadcast(client, site.admin_headers, "once")
        counts = (await wait_until_done(client, site, first, timeout=600))["counts"]
    assert counts["accepted"] == SUBSCRIBERS, counts
    assert _copies(browsers, first) == {1: SUBSCRIBERS}, "not exactly once"
    assert len(push_service.received) == SUBSCRIBERS
    assert all(m.decrypt_error is None for m in push_service.received)
    worked = [w.log_path.read_text().count(f"notification {first}: delivery starts") for w in
              cluster.workers]  # fmt: skip
    assert all(worked), f"every worker should have taken part: {worked}"


async def test_a_worker_sigkilled_mid_broadcast_loses_nothing_and_resends_only_its_window(
    cluster: Cluster, push_service: LocalPushService
) -> None:
    site, browsers = await _filled_site(cluster, push_service)
    async with httpx.AsyncClient(base_url=cluster.gateways[1].base_url, timeout=30) as client:
        second = await _broadcast(client, site.admin_headers, "killed")
        await push_service.wait_for_total(SUBSCRIBERS // 3, timeout=300)
        cluster.workers[1].kill()
        counts = (await wait_until_done(client, site, second, timeout=600))["counts"]
    copies = _copies(browsers, second)
    duplicates = sum((n - 1) * k for n, k in copies.items() if n > 1)
    print(f"killed worker: {duplicates} duplicates (window {KILLED_WINDOW}); copies {copies}")
    assert 0 not in copies, f"{copies[0]} subscribers lost"
    assert counts["accepted"] == SUBSCRIBERS and counts["targeted"] == SUBSCRIBERS, counts
    assert len(push_service.received) == SUBSCRIBERS + duplicates
    assert all(m.decrypt_error is None for m in push_service.received)
    # A surviving engine whose lease renewals stall under load gives up what it holds before
    # its leases end (delivery/leases.py), so the others' takeover sends nothing twice beyond
    # what was on the wire.
    assert duplicates <= KILLED_WINDOW, f"{duplicates} duplicates > window {KILLED_WINDOW}"


async def test_the_same_idempotency_key_at_two_gateways_at_once_makes_one_notification(
    cluster: Cluster, push_service: LocalPushService
) -> None:
    site = site_of(cluster.gateways[0])
    headers = site.admin_headers | {"Idempotency-Key": "breaking-2026-12-01"}
    clients = [httpx.AsyncClient(base_url=g.base_url, timeout=30) for g in cluster.gateways * 4]
    try:
        answers = await asyncio.gather(
            *(
                c.post("/api/v1/notifications", json={"title": "t"}, headers=headers)
                for c in clients
            )
        )
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    assert {a.status_code for a in answers} == {202}, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
