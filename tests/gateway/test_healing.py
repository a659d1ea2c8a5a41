"""Workers that heal, notifications that fail once and for all, a store that cannot write."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pushgate.store import open_store
from pushgate.store.models import Audience, NewNotification
from pushgate.testing import Fault, LocalPushService
from tests.conftest import Gateway, Site, free_port, site_of, subscribe_all, wait_until_done


def _send_workers(pid: int) -> list[int]:
    """The gateway's send worker processes (not, say, multiprocessing's resource tracker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [
        int(child)
        for child in children
        if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


async def _send(client: httpx.AsyncClient, site: Site) -> str:
    answer = await client.post(
        "/api/v1/notifications", json={"title": "t"}, headers=site.admin_headers
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


async def test_killed_send_worker_is_replaced_and_the_broadcast_completes(
    push_service: LocalPushService, gateway_factory: Any
) -> None:
    gateway = gateway_factory(
        push_service.host_port,
        PUSHGATE_SEND_WORKERS="2",
        PUSHGATE_MAX_IN_FLIGHT_PER_HOST="10",
    )
    site = site_of(gateway)
    assert gateway.process is not None
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
        browsers = [push_service.new_browser() for _ in range(1500)]
        await subscribe_all(client, site, browsers)
        push_service.inject(Fault(status=201, delay=0.02))
        notification_id = await _send(client, site)
        await push_service.wait_for_total(200, timeout=30)

        workers = _send_workers(gateway.process.pid)
        assert len(workers) >= 2, workers
        os.kill(workers[0], signal.SIGKILL)
        seen_short = False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not seen_short:
            answer = await client.get("/healthz")
            if answer.status_code == 503:
                seen_short = answer.json()["error"]["code"] == "delivery_unavailable"
            else:
                seen_short = answer.json()["send_workers"]["running"] < 2
            await asyncio.sleep(0.05)
        assert seen_short, "/healthz never showed the missing worker"

        status = await wait_until_done(client, site, notification_id, timeout=120)
        assert status["counts"]["accepted"] == 1500 and status["counts"]["pending"] == 0
        copies = [len(b.messages) for b in browsers]
        assert min(copies) == 1 and sum(copies) - 1500 <= 200
        health = (await client.get("/healthz")).json()
        assert health["send_workers"] == {"running": 2, "configured": 2}
        assert workers[0] not in _send_workers(gateway.process.pid)


@pytest.mark.own_database
async def test_notification_whose_delivery_keeps_raising_ends_failed_with_the_reason(
    push_service: LocalPushService, gateway_factory: Any
) -> None:
    gateway = gateway_factory(push_service.host_port)
    site = site_of(gateway)
    gateway.stop()
    async with open_store(gateway.database) as store:
        notification, _ = await store.create_notification(
            site.id, NewNotification({"title": "t"}, Audience(everyone=True), 60)
        )
    # Its site gone underneath it (no API call can do this: sites cascade to notifications),
    # so starting its delivery raises the same error every time.
    path = gateway.database.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as db:  # foreign keys are off here
        db.execute("UPDATE notifications SET site_id = 'gone' WHERE id = ?", (notification.id,))
        db.commit()
    gateway.start()
    deadline = time.monotonic() + 30
    while True:
        with contextlib.closing(sqlite3.connect(path)) as db:
            status, error = db.execute(
                "SELECT status, error FROM notifications WHERE id = ?", (notification.id,)
            ).fetchone()
        if status == "failed" or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert status == "failed"
    assert error == "LookupError: site gone is gone"


@contextlib.contextmanager
def _small_tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A tiny filesystem the test can fill (CI runs as root, as mount needs)."""
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder: Path) -> Path:
    """Fill the disk. SQLite first gets its write-ahead log emptied, so its next writes need
    new space (it would otherwise go on reusing the log's pages, and rightly succeed)."""
    with sqlite3.connect(folder / "pushgate.db", timeout=30) as db:
        busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0, "could not empty the write-ahead log"
    filler = folder / "filler"
    with filler.open("wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()
    return filler


@pytest.mark.own_database
async def test_store_that_cannot_write_pauses_the_broadcast_and_answers_503(
    push_service: LocalPushService, tmp_path: Path
) -> None:
    with _small_tmpfs(tmp_path / "disk", "16m") as disk:
        gateway = Gateway(
            database=f"sqlite:///{disk / 'pushgate.db'}",
            port=free_port(),
            allowed_push_hosts=push_service.host_port,
            extra_env={"PUSHGATE_MAX_IN_FLIGHT_PER_HOST": "10"},
        )
        gateway.start()
        try:
            await _store_outage(gateway, push_service, disk)
        finally:
            gateway.stop()


async def _store_outage(gateway: Gateway, push_service: LocalPushService, disk: Path) -> None:
    site = site_of(gateway)
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
        browsers = [push_service.new_browser() for _ in range(1000)]
        await subscribe_all(client, site, browsers)
        push_service.inject(Fault(status=201, delay=0.05))
        notification_id = await _send(client, site)
        await push_service.wait_for_total(100, timeout=30)

        filler = _fill(disk)
        deadline = time.monotonic() + 10
        while (health := await client.get("/healthz")).status_code == 200:
            assert time.monotonic() < deadline, "/healthz still says ok with a full disk"
            await asyncio.sleep(0.2)
        assert health.status_code == 503 and health.json()["error"]["code"] == "store_unavailable"
        newcomer = push_service.new_browser()
        answer = await client.post(
            site.subscriptions_url,
            json={"subscription": newcomer.subscription()},
            headers={"Origin": "https://news.example"},
        )
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "store_unavailable"

        await asyncio.sleep(2)  # what was in flight lands; then nothing new goes out
        paused_at = len(push_service.received)
        await asyncio.sleep(3)
        assert len(push_service.received) == paused_at, "sending went on without recording"
        assert paused_at < 1000, "the broadcast finished before the store failed; slow it down"

        filler.unlink()
        status = await wait_until_done(client, site, notification_id, timeout=120)
        assert status["counts"]["accepted"] == 1000
        copies = [len(b.messages) for b in browsers]
        assert min(copies) == 1 and sum(copies) - 1000 <= 200, sum(copies) - 1000
        assert (await client.get("/healthz")).status_code == 200
