"""One timed broadcast through pushgate's admin API, with an optional subscribe probe.

Timed from the moment the API call is made until `counts.pending == 0` for the whole
audience (or until another `Done` says so: the slow-service row stops at its healthy part);
the sink's access log gives the first message's start time. While it runs, a thread samples
the CPU and RSS of every pushgate process from /proc.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bench.config import SITE_ORIGIN, TITLE
from bench.procstat import Monitor
from pushgate.webpush.b64 import b64url_encode

POLL_S = 0.05  # how often the notification's counts are read
PROBE_INTERVAL_S = 0.05  # one subscribe call every 50 ms while the broadcast runs
PROBE_MAX = 4000  # bounded, whatever the broadcast's length
PROBE_KEYS = 16
BODY = "Everything the bench measured, side by side."

Done = Callable[[dict[str, Any]], bool]  # the notification as the API shows it: finished?


def everyone(size: int) -> Done:
    """Every subscriber's outcome is recorded."""

    def done(doc: dict[str, Any]) -> bool:
        counts = doc["counts"]
        return doc.get("status") == "done" or (
            counts["targeted"] >= size and counts["pending"] == 0
        )

    return done


def healthy_part(healthy: int, healthy_left: Callable[[str], int]) -> Done:
    """Every subscriber off the slow push service has its outcome recorded. The API's counts
    do not say which push service an outcome came from: once they could mean done,
    `healthy_left(notification id)` asks the store."""

    def done(doc: dict[str, Any]) -> bool:
        counts = doc["counts"]
        settled = counts["accepted"] + counts["failed"] + counts["gone"]
        return settled >= healthy and healthy_left(doc["id"]) == 0

    return done


@dataclass
class Broadcast:
    seconds: float = 0.0  # API call until every outcome recorded
    api_ms: float = 0.0  # the API call's own latency
    answered_at: float = 0.0  # wall clock when the 202 came back
    counts: dict[str, int] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    peak_rss: int = 0
    peak_pss: int = 0
    probe_ms: list[float] = field(default_factory=list)
    probe_errors: int = 0
    speed_us: float = 0.0  # the machine's speed around the run (bench.calibrate)

    def probe_summary(self) -> str:
        if not self.probe_ms:
            return "no probe"
        ordered = sorted(self.probe_ms)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return (
            f"{len(ordered)} subscribes: p50 {statistics.median(ordered):.1f} ms, "
            f"p99 {p99:.1f} ms, max {ordered[-1]:.1f} ms, {self.probe_errors} errors"
        )

    @property
    def probe_p99_ms(self) -> float | None:
        if not self.probe_ms:
            return None
        ordered = sorted(self.probe_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _probe_subscription(n: int, port: int, key: tuple[str, str]) -> dict[str, Any]:
    endpoint = f"https://127.0.0.1:{port}/push/probe-{n}-{time.time_ns()}"
    return {"subscription": {"endpoint": endpoint, "keys": {"p256dh": key[0], "auth": key[1]}}}


def probe_keys() -> list[tuple[str, str]]:
    keys = []
    for _ in range(PROBE_KEYS):
        raw = ec.generate_private_key(ec.SECP256R1()).public_key()
        point = raw.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        keys.append((b64url_encode(point), b64url_encode(b"\x01" * 16)))
    return keys


async def _probe(
    session: aiohttp.ClientSession, url: str, port: int, done: asyncio.Event, out: Broadcast
) -> None:
    keys = probe_keys()
    for n in range(PROBE_MAX):
        if done.is_set():
            return
        start = time.perf_counter()
        body = _probe_subscription(n, port, keys[n % len(keys)])
        async with session.post(url, json=body, headers={"Origin": SITE_ORIGIN}) as resp:
            await resp.read()
            out.probe_errors += resp.status >= 300
        out.probe_ms.append((time.perf_counter() - start) * 1000)
        await asyncio.sleep(PROBE_INTERVAL_S)


async def _wait_done(
    session: aiohttp.ClientSession, url: str, done: Done, timeout: float
) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with session.get(url) as resp:
            doc = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"GET {url}: {resp.status} {doc}")
        counts: dict[str, int] = doc["counts"]
        if done(doc):
            return counts
        await asyncio.sleep(POLL_S)
    raise RuntimeError(f"broadcast not finished after {timeout:.0f} s: {counts}")


async def _broadcast(
    base_url: str,
    api_key: str,
    done: Done,
    timeout: float,
    probe: tuple[str, int] | None,
    title: str,
) -> Broadcast:
    out = Broadcast()
    headers = {"Authorization": f"Bearer {api_key}"}
    body = {"title": title, "body": BODY, "audience": {"all": True}}
    finished = asyncio.Event()
    async with aiohttp.ClientSession(headers=headers) as session:
        start_wall, start = time.time(), time.perf_counter()
        async with session.post(f"{base_url}/api/v1/notifications", json=body) as resp:
            created = await resp.json()
            if resp.status != 202:
                raise RuntimeError(f"POST /api/v1/notifications: {resp.status} {created}")
        out.api_ms = (time.perf_counter() - start) * 1000
        out.answered_at = start_wall + out.api_ms / 1000
        prober = None
        if probe is not None:
            url = f"{base_url}/v1/sites/{probe[0]}/subscriptions"
            prober = asyncio.create_task(_probe(session, url, probe[1], finished, out))
        url = f"{base_url}/api/v1/notifications/{created['id']}"
        out.counts = await _wait_done(session, url, done, timeout)
        out.seconds = time.perf_counter() - start
        finished.set()
        if prober is not None:
            await prober
    return out


def broadcast(
    pid: int,
    base_url: str,
    api_key: str,
    size: int,
    timeout: float,
    probe: tuple[str, int] | None = None,
    done: Done | None = None,
    title: str = TITLE,
) -> Broadcast:
    """Broadcast to everyone, timed until `done` (default: every outcome recorded);
    `probe` = (site id, sink port) also times subscribe calls. `title` may be a template
    (the templated row's reads `subscriber`)."""
    until = done or everyone(size)
    with Monitor(pid) as monitor:
        result = asyncio.run(_broadcast(base_url, api_key, until, timeout, probe, title))
    result.cpu_seconds, result.peak_rss = monitor.cpu_seconds, monitor.peak_rss
    result.peak_pss = monitor.peak_pss
    return result
