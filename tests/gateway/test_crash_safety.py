"""Crash safety (#8), end to end: a gateway SIGKILLed again and again mid-broadcast loses nothing
and sends again only what was in flight; a gateway stopped with SIGTERM lets what is in flight
be answered and recorded, and exits within the push timeout.

Real `pushgate serve` processes, the local push service in this process, simulated browsers
that decrypt every message they get.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from pushgate.delivery.outcomes import FLUSH_AT_COUNT
from pushgate.delivery.sender_process import REPORT_AT_COUNT
from pushgate.store import open_store
from pushgate.store.models import NewSubscription
from pushgate.testing import Fault, LocalPushService, SimulatedBrowser
from tests.conftest import Gateway, Site, site_of, subscribe_all, wait_until_done

TITLE = "Crash safety"
BULK_CHUNK = 20_000  # subscriptions per store transaction while filling the store
CHILDREN_EXIT_SECONDS = 5.0

# --- SIGKILL ---------------------------------------------------------------------------------
SUBSCRIBERS = 100_000
KILLS = 10
SEED = 8  # issue #8: the same ten moments on every run
MAX_IN_FLIGHT = 32
SEND_WORKERS = 2
# What a SIGKILL can leave sent but not recorded, so that it is sent again after the restart:
# - the requests open to the push service: at most --max-in-flight-per-host (all workers
#   together). 32 keeps this part small and still keeps the local push service busy: it runs
#   in this test's process and answers at most about 2,000 pushes a second on loopback;
# - per send worker, answers not yet reported to the main process: fewer than REPORT_AT_COUNT
#   (they go every 20 ms or at 64);
# - in the main process, outcomes reported but not yet written: the README's "every 100 ms or
#   1,000 results" (FLUSH_AT_COUNT); at this broadcast's rate 100 ms is about 200 of them.
IN_FLIGHT_WINDOW = MAX_IN_FLIGHT + SEND_WORKERS * REPORT_AT_COUNT + FLUSH_AT_COUNT
# How long after a message's answer it may still be unrecorded: 20 ms in the worker, 100 ms in
# the writer, the write itself, and the event loops' lag on a loaded 2-core machine. A message
# the push service accepted longer than this before a kill must never arrive twice.
RECORD_LAG_SECONDS = 2.0
# The push service runs in this process: a request sent just before a kill may be handled (and
# time-stamped) a moment after it.
SETTLE_SECONDS = 0.5

# --- SIGTERM ---------------------------------------------------------------------------------
DRAIN_SUBSCRIBERS = 64
SLOW_ANSWER_SECONDS = 2.0
PUSH_TIMEOUT_SECONDS = 5.0
DRAIN_IN_FLIGHT = 8  # one send worker with 8 requests on the wire: 64 messages take 8 answers
EXIT_MARGIN_SECONDS = 2.0  # the interpreter's and uvicorn's own shutdown


async def _broadcast(client: httpx.AsyncClient, site: Site) -> str:
    body = {"title": TITLE, "tag": "crash-safety"}
    answer = await client.post("/api/v1/notifications", json=body, headers=site.admin_headers)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


async def _store_subscriptions(
    database: str, site_id: str, browsers: list[SimulatedBrowser]
) -> None:
    """Straight into the gateway's store, as bench/gateway.py does: 100,000 subscribe calls
    would take minutes, and the subscribe path has tests of its own."""
    async with open_store(database) as store:
        for start in range(0, len(browsers), BULK_CHUNK):
            chunk = browsers[start : start + BULK_CHUNK]
            subs = [NewSubscription(b.endpoint, b.p256dh, b.auth) for b in chunk]
            assert await store.add_subscriptions_bulk(site_id, subs) == len(chunk)


def _kill_points(rng: random.Random, total: int) -> list[int]:
    """Messages received when each kill comes: one random point in each tenth of 3-93 %."""
    span = total * 0.9 / KILLS
    return [int(total * 0.03 + span * i + rng.uniform(0, span)) for i in range(KILLS)]


def _children(pid: int) -> set[int]:
    """The processes `pid` started (send workers, multiprocessing's resource tracker)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that has just ended
            found.update(int(c) for c in (task / "children").read_text().split())
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan that exited waits for init to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


async def _wait_gone(pids: set[int]) -> set[int]:
    """The pids still running after CHILDREN_EXIT_SECONDS."""
    deadline = time.monotonic() + CHILDREN_EXIT_SECONDS
    while (alive := {p for p in pids if _running(p)}) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return alive


async def _kill(gateway: Gateway) -> float:
    """SIGKILL the gateway; its send workers must stop too. Returns the time of the kill."""
    assert gateway.process is not None
    workers = _children(gateway.process.pid)
    gateway.kill()
    killed_at = time.time()
    orphans = await _wait_gone(workers)
    assert not orphans, f"send workers {orphans} outlived the killed gateway"
    return killed_at


async def test_gateway_sigkilled_ten_times_mid_broadcast_loses_nothing_and_counts_exactly(
    push_service: LocalPushService, gateway_factory: Any
) -> None:
    gateway: Gateway = gateway_factory(
        push_service.host_port,
        PUSHGATE_MAX_IN_FLIGHT_PER_HOST=str(MAX_IN_FLIGHT),
        PUSHGATE_SEND_WORKERS=str(SEND_WORKERS),
    )
    site = site_of(gateway)
    browsers = [push_service.new_browser() for _ in range(SUBSCRIBERS)]
    await _store_subscriptions(gateway.database, site.id, browsers)

    kills: list[float] = []
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
        notification_id = await _broadcast(client, site)
        for point in _kill_points(random.Random(SEED), SUBSCRIBERS):
            await push_service.wait_for_total(point, timeout=60)
            kills.append(await _kill(gateway))
            reached = len({m.endpoint_id for m in push_service.received})
            assert reached < SUBSCRIBERS, f"kill {len(kills)} came after the broadcast ended"
            await asyncio.to_thread(gateway.start)
        status = await wait_until_done(client, site, notification_id, timeout=120)

    assert status["counts"] == {
        "targeted": SUBSCRIBERS,
        "accepted": SUBSCRIBERS,
        "failed": 0,
        "gone": 0,
        "pending": 0,
        "capped": 0,
        "cancelled": 0,
        "delivered": 0,
        "clicked": 0,
        "dismissed": 0,
    }
    assert Counter(r.status for r in push_service.requests).keys() == {201}
    copies = Counter(len(b.messages) for b in browsers)
    assert 0 not in copies, f"{copies[0]} subscribers never got the notification"
    for message in push_service.received:
        assert message.decrypt_error is None, message.decrypt_error
        assert message.json()["pushgate"]["id"] == notification_id

    resends = _resends(browsers, kills)
    extra = Counter(kill for kill, _ in resends)
    per_kill = [extra[k] for k in range(KILLS)]
    longest = max((lag for _, lag in resends), default=0.0)
    print(
        f"\nextra copies after each of {KILLS} kills: {per_kill}, {sum(per_kill)} in all "
        f"(bound {KILLS} x {IN_FLIGHT_WINDOW}); longest an accepted copy stayed unrecorded "
        f"before a kill: {longest:.2f} s"
    )
    assert max(per_kill) <= IN_FLIGHT_WINDOW, f"extra copies per kill: {per_kill}"
    assert sum(per_kill) <= KILLS * IN_FLIGHT_WINDOW
    assert longest <= RECORD_LAG_SECONDS, "a copy accepted long before a kill was sent again"


def _kill_before(copy: float, next_copy: float, kills: list[float]) -> int:
    """The kill that kept `copy` from being recorded, so that it was sent again: the first kill
    at most SETTLE_SECONDS before the copy (a request sent just before a kill is handled by the
    push service just after it), and before the next copy."""
    kill = bisect.bisect(kills, copy - SETTLE_SECONDS)
    assert kill < len(kills) and kills[kill] < next_copy, (
        f"a copy sent again with no kill in between (copies at {copy:.3f} and {next_copy:.3f})"
    )
    return kill


def _resends(browsers: list[SimulatedBrowser], kills: list[float]) -> list[tuple[int, float]]:
    """For every copy after a subscriber's first: the kill it followed, and how long before
    that kill the push service had accepted the copy before it."""
    found = []
    for browser in browsers:
        for earlier, later in itertools.pairwise(browser.messages):
            kill = _kill_before(earlier.received_at, later.received_at, kills)
            found.append((kill, kills[kill] - earlier.received_at))
    return found


# --- SIGTERM ---------------------------------------------------------------------------------


async def _wait_exit(process: subprocess.Popen[bytes], timeout: float) -> float:
    """Seconds until the process exits; the event loop (and the push service) keep running."""
    started = time.monotonic()
    try:
        await asyncio.to_thread(process.wait, timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the gateway still runs {timeout} s after SIGTERM") from None
    return time.monotonic() - started


async def _recorded_accepted(database: str, site_id: str, notification_id: str) -> int:
    """What the stopped gateway's database says was accepted."""
    async with open_store(database) as store:
        notification = await store.get_notification(site_id, notification_id)
        assert notification is not None
        return notification.counts.accepted


@pytest.mark.parametrize(
    "answered_waves",
    [
        # SIGTERM while the first 8 messages are on the wire: a push service not yet known to
        # answer gets no more.
        0,
        # SIGTERM once the push service is known to answer: the send worker then holds the
        # rest of the broadcast, 8 on the wire and the others waiting for a connection.
        2,
    ],
    ids=["first-messages", "known-service"],
)
async def test_gateway_sigterm_mid_broadcast_records_in_flight_and_exits_within_push_timeout(
    push_service: LocalPushService, gateway_factory: Any, answered_waves: int
) -> None:
    gateway: Gateway = gateway_factory(
        push_service.host_port,
        PUSHGATE_PUSH_TIMEOUT=str(PUSH_TIMEOUT_SECONDS),
        PUSHGATE_MAX_IN_FLIGHT_PER_HOST=str(DRAIN_IN_FLIGHT),
        PUSHGATE_SEND_WORKERS="1",
    )
    site = site_of(gateway)
    browsers = [push_service.new_browser() for _ in range(DRAIN_SUBSCRIBERS)]
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
        await subscribe_all(client, site, browsers)
        push_service.inject(Fault(status=201, delay=SLOW_ANSWER_SECONDS))
        notification_id = await _broadcast(client, site)
        await push_service.wait_for_total(answered_waves * DRAIN_IN_FLIGHT, timeout=60)
        # The next 8 left with the broadcast or as the last answers came: halfway to their own
        # answers, stop.
        await asyncio.sleep(SLOW_ANSWER_SECONDS / 2)
        assert gateway.process is not None
        workers = _children(gateway.process.pid)
        terminated_at = time.time()
        gateway.process.terminate()
        exit_seconds = await _wait_exit(gateway.process, PUSH_TIMEOUT_SECONDS * 2 + 5)
        exit_code = gateway.process.returncode
        assert not await _wait_gone(workers), "send workers outlived the stopped gateway"
        await asyncio.sleep(SLOW_ANSWER_SECONDS)  # whatever is still on the wire gets answered

        on_wire = [
            r
            for r in push_service.requests
            if r.received_at < terminated_at < r.received_at + SLOW_ANSWER_SECONDS
        ]
        sent_after = sum(r.received_at >= terminated_at for r in push_service.requests)
        accepted = len(push_service.received)
        recorded = await _recorded_accepted(gateway.database, site.id, notification_id)
        push_service.clear_faults()
        await asyncio.to_thread(gateway.start)
        status = await wait_until_done(client, site, notification_id, timeout=60)

    twice = sum(len(b.messages) > 1 for b in browsers)
    print(
        f"\nSIGTERM with {len(on_wire)} on the wire: exit after {exit_seconds:.2f} s, "
        f"{sent_after} sent after SIGTERM, {accepted} accepted by the push service and "
        f"{recorded} recorded at exit; after the restart {twice} subscribers got two copies"
    )
    assert on_wire, "nothing was in flight at SIGTERM; the test proves nothing"
    assert exit_seconds <= PUSH_TIMEOUT_SECONDS + EXIT_MARGIN_SECONDS
    # uvicorn raises the signal again once it has shut down; an error would exit with 1.
    assert exit_code in (0, -signal.SIGTERM)
    assert recorded == accepted, "messages the push service accepted were not recorded"
    assert status["counts"]["accepted"] == DRAIN_SUBSCRIBERS
    assert (status["counts"]["pending"], status["counts"]["failed"]) == (0, 0)
    assert twice == 0, "an orderly stop left messages to be sent again"
