"""Subscribe throughput (issue #14 part 4): the real `pushgate serve` on a new SQLite file, on a
loopback port, and CLIENTS concurrent HTTP clients, each on its own keep-alive connection,
posting real-looking subscriptions (as the snippet sends them: `PushSubscription.toJSON()`
with a P-256 key, a 16-byte auth secret, time zone and language; each endpoint distinct, on an
allowlisted loopback push-service origin that nothing needs to listen on) until COUNT are
stored. Prints subscribes/s, p50/p99/max latency and errors.

    .venv/bin/python -m bench.subscribe_rate [--count 20000] [--clients 50] [--runs 1]

Every subscribe is answered only once durable (SQLite `synchronous=FULL`), as in production.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench import procstat
from bench.broadcast import probe_keys
from bench.config import SITE_ORIGIN, VAPID_SUBJECT
from bench.gateway import (
    BENCH_RATE_PER_MINUTE,
    PUSHGATE,
    START_TIMEOUT_S,
    BenchSite,
    _stop,
    create_site,
    free_port,
)
from bench.results import Row

DEFAULT_COUNT = 20_000
DEFAULT_CLIENTS = 50
QUICK_COUNT = 1_000  # `python -m bench --quick` and the smoke run
ROW_KEY = "subscribe_rate"  # its row in the main table (bench/suite.py)
PUSH_HOST = "127.0.0.1:18449"  # the push-service origin the endpoints name; never called
TIMEOUT_S = 600.0  # a run slower than ~33 subscribes/s is given up on
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "Europe/Paris", "UTC")
LANGUAGES = ("de-DE", "en-US", "ja", "fr-FR", "en-GB")


@dataclass
class SubscribeRun:
    count: int
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)  # status (or exception) -> how many
    server_cpu_s: float = 0.0  # the serve process tree's CPU over the run
    client_cpu_s: float = 0.0  # the clients' own (this process)

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else 0.0

    def summary(self) -> str:
        errors = sum(self.errors.values())
        detail = f" {self.errors}" if errors else ""
        return (
            f"{self.rate:,.0f} subscribes/s ({len(self.latencies_ms):,} in {self.seconds:.2f} s), "
            f"p50 {statistics.median(self.latencies_ms or [0]):.1f} ms, "
            f"p99 {self.percentile(0.99):.1f} ms, max {self.percentile(1.0):.1f} ms, "
            f"{errors} errors{detail}; CPU per subscribe: "
            f"server {self._per_one(self.server_cpu_s)}, clients {self._per_one(self.client_cpu_s)}"
        )

    def _per_one(self, seconds: float) -> str:
        return f"{seconds / max(1, len(self.latencies_ms)) * 1e6:.0f} µs"


def _body(n: int, run: str, key: tuple[str, str]) -> dict[str, object]:
    return {
        "subscription": {
            "endpoint": f"https://{PUSH_HOST}/push/rate-{run}-{n:07d}",
            "expirationTime": None,
            "keys": {"p256dh": key[0], "auth": key[1]},
        },
        "timezone": ZONES[n % len(ZONES)],
        "language": LANGUAGES[n % len(LANGUAGES)],
    }


async def _client(
    url: str, numbers: asyncio.Queue[int], run: str, keys: list[tuple[str, str]], out: SubscribeRun
) -> None:
    """One browser after another on one keep-alive connection, until the numbers run out."""
    headers = {"Origin": SITE_ORIGIN, "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        while not numbers.empty():
            n = numbers.get_nowait()
            start = time.perf_counter()
            try:
                async with session.post(url, json=_body(n, run, keys[n % len(keys)])) as resp:
                    await resp.read()
                    status = resp.status
            except aiohttp.ClientError as exc:
                status, name = 0, type(exc).__name__
                out.errors[name] = out.errors.get(name, 0) + 1
            if status == 201:
                out.latencies_ms.append((time.perf_counter() - start) * 1000)
            elif status:
                out.errors[str(status)] = out.errors.get(str(status), 0) + 1


async def _subscribe_all(
    base_url: str, site_id: str, count: int, clients: int, server_pid: int
) -> SubscribeRun:
    url = f"{base_url}/v1/sites/{site_id}/subscriptions"
    numbers: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        numbers.put_nowait(n)
    keys, out, run = probe_keys(), SubscribeRun(count), f"{time.time_ns():x}"
    server = procstat.tree(server_pid)
    server_cpu, client_cpu = procstat.cpu_seconds(server), time.process_time()
    start = time.perf_counter()
    tasks = [_client(url, numbers, run, keys, out) for _ in range(clients)]
    await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT_S)
    out.seconds = time.perf_counter() - start
    out.server_cpu_s = procstat.cpu_seconds(server) - server_cpu
    out.client_cpu_s = time.process_time() - client_cpu
    return out


class SubscribeGateway:
    """`pushgate serve` on its own SQLite file in `folder`, with a new site, on a free port."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.site: BenchSite = create_site(folder / "subscribe-rate.db")
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = os.environ | {
            "PUSHGATE_DATABASE": self.site.database,
            "PUSHGATE_HOST": "127.0.0.1",
            "PUSHGATE_PORT": str(self.port),
            "PUSHGATE_VAPID_SUBJECT": VAPID_SUBJECT,
            "PUSHGATE_ALLOWED_PUSH_HOSTS": PUSH_HOST,
            "PUSHGATE_LOG_LEVEL": "warning",
            "PUSHGATE_RATE_LIMIT_PER_CLIENT": str(BENCH_RATE_PER_MINUTE),
            "PUSHGATE_RATE_LIMIT_SUBSCRIBE_PER_SITE": str(BENCH_RATE_PER_MINUTE),
        }
        log = (self.folder / "pushgate-subscribe-rate.log").open("ab")
        self.proc = subprocess.Popen([str(PUSHGATE), "serve"], env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pushgate serve exited; see {self.folder}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("pushgate serve did not answer /healthz")

    def stop(self) -> None:
        _stop(self.proc)


def measure(folder: Path, count: int, clients: int) -> SubscribeRun:
    """One run on a new store: `count` subscribes by `clients` concurrent clients."""
    gateway = SubscribeGateway(folder)
    gateway.start()
    try:
        assert gateway.proc is not None
        found = _subscribe_all(gateway.base_url, gateway.site.id, count, clients, gateway.proc.pid)
        return asyncio.run(found)
    finally:
        gateway.stop()


def suite_row(folder: Path, runs: int, quick: bool, log: Callable[[str], None]) -> Row:
    """The main table's row: `runs` runs of DEFAULT_COUNT subscribes (QUICK_COUNT when
    `quick`), each on a new store in `folder`; subscribes/s in the msgs/s column, the server's
    CPU per 1,000 subscribes in the CPU column. A run with errors gives no rate."""
    count = QUICK_COUNT if quick else DEFAULT_COUNT
    label = f"subscribe throughput ({DEFAULT_CLIENTS} clients, SQLite): subscribes/s"
    row = Row(ROW_KEY, label, count)
    for number in range(runs):
        log(f"subscribe throughput, run {number + 1}: {count:,} by {DEFAULT_CLIENTS} clients ...")
        found = measure(folder, count, DEFAULT_CLIENTS)
        row.extras[f"run {number + 1}"] = found.summary()
        if found.errors:
            row.note = f"run {number + 1}: errors {found.errors}"
            continue
        row.rates.append(found.rate)
        row.figures[f"run_{number + 1}_p99_ms"] = found.percentile(0.99)
        row.cpu_per_1k = found.server_cpu_s / count * 1000
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.subscribe_rate", description=__doc__)
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help="subscribes per run")
    parser.add_argument("--clients", type=int, default=DEFAULT_CLIENTS, help="in flight")
    parser.add_argument("--runs", type=int, default=1, help="runs, each on a new store")
    args = parser.parse_args(argv)
    runs = []
    for number in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="pushgate-subscribe-rate-") as folder:
            found = measure(Path(folder), args.count, args.clients)
        runs.append(found)
        print(f"run {number + 1}: {args.clients} clients: {found.summary()}", flush=True)
    if len(runs) > 1:
        print(f"median: {statistics.median(r.rate for r in runs):,.0f} subscribes/s")
    return 1 if any(r.errors for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
