"""Subscribe throughput (issue #14 part 4): the real `pushgate serve` on a new SQLite file, on a
loopback port, and CLIENTS concurrent clients (wrk, one keep-alive connection each, a request in
flight on each) posting real-looking subscriptions for SECONDS: as the snippet sends them
(`PushSubscription.toJSON()` with a real P-256 key, a 16-byte auth secret, time zone and
language; each endpoint distinct, on an allowlisted loopback push-service origin that nothing
needs to listen on). Prints subscribes/s, p50/p99/max latency, errors, and CPU per subscribe of
the server and of the clients; then checks that every subscribe answered 201 is stored.

    .venv/bin/python -m bench.subscribe_rate [--seconds 8] [--clients 50] [--runs 1]

The clients are wrk (C, with a Lua script making each body), the tool the sink's ceiling row
uses: at ~3,000 subscribes/s a Python client (aiohttp: ~150 µs of CPU per request) would take a
third of this 2-core machine from the server it measures, where real browsers cost it nothing.
Every subscribe is answered only once durable (SQLite `synchronous=FULL`), as in production.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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
from pushgate.store import open_store

DEFAULT_SECONDS = 8
DEFAULT_CLIENTS = 50
QUICK_SECONDS = 1  # `python -m bench --quick` and the smoke run
ROW_KEY = "subscribe_rate"  # its row in the main table (bench/suite.py)
PUSH_HOST = "127.0.0.1:18449"  # the push-service origin the endpoints name; never called
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "Europe/Paris", "UTC")
LANGUAGES = ("de-DE", "en-US", "ja", "fr-FR", "en-GB")

# Each request's body is made in the Lua state of wrk's thread: a distinct endpoint per request
# (the run's id, then a counter), the keys, zones and languages in turn. Statuses are counted
# there too; `done` (wrk's main Lua state) reads them from the thread and prints one JSON line.
WRK_SCRIPT = """
local keys = {%(keys)s}
local zones = {%(zones)s}
local languages = {%(languages)s}
local threads = {}
function setup(thread) table.insert(threads, thread) end
n = 0
statuses = {}
request = function()
  n = n + 1
  local i = n %% #keys + 1
  local body = '{"subscription":{"endpoint":"https://%(host)s/push/rate-%(run)s-' .. n ..
    '","expirationTime":null,"keys":{"p256dh":"' .. keys[i] .. '","auth":"%(auth)s"}},' ..
    '"timezone":"' .. zones[n %% #zones + 1] .. '","language":"' ..
    languages[n %% #languages + 1] .. '"}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
    ["Origin"] = "%(origin)s", ["User-Agent"] = "%(agent)s"}, body)
end
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
done = function(summary, latency, requests)
  local parts = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      table.insert(parts, string.format('"%%d": %%d', status, count))
    end
  end
  local e = summary.errors
  io.write(string.format('PUSHGATE_RESULT {"statuses": {%%s}, "microseconds": %%d, ' ..
    '"p50_us": %%d, "p99_us": %%d, "max_us": %%d, "connect": %%d, "read": %%d, ' ..
    '"write": %%d, "timeout": %%d}\\n',
    table.concat(parts, ", "), summary.duration, latency:percentile(50),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.timeout))
end
"""


@dataclass
class SubscribeRun:
    seconds: float = 0.0
    stored: int = 0  # subscribes answered 201
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)  # status (or socket error) -> how many
    server_cpu_s: float = 0.0  # the serve process tree's CPU over the run
    client_cpu_s: float = 0.0  # wrk's

    @property
    def rate(self) -> float:
        return self.stored / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        errors = sum(self.errors.values())
        detail = f" {self.errors}" if errors else ""
        return (
            f"{self.rate:,.0f} subscribes/s ({self.stored:,} in {self.seconds:.2f} s), "
            f"p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, max {self.max_ms:.1f} ms, "
            f"{errors} errors{detail}; CPU per subscribe: "
            f"server {self._per_one(self.server_cpu_s)}, clients {self._per_one(self.client_cpu_s)}"
        )

    def _per_one(self, seconds: float) -> str:
        return f"{seconds / max(1, self.stored) * 1e6:.0f} µs"


def wrk_script(run: str) -> str:
    keys = probe_keys()

    def quoted(values: object) -> str:
        return ", ".join(f'"{v}"' for v in values)  # type: ignore[attr-defined]

    return WRK_SCRIPT % {
        "keys": quoted(k for k, _ in keys),
        "auth": keys[0][1],
        "zones": quoted(ZONES),
        "languages": quoted(LANGUAGES),
        "host": PUSH_HOST,
        "run": run,
        "origin": SITE_ORIGIN,
        "agent": USER_AGENT,
    }


def parse_wrk(output: str) -> SubscribeRun:
    """The run as wrk's `done` printed it (one PUSHGATE_RESULT line of JSON)."""
    line = next(x for x in output.splitlines() if x.startswith("PUSHGATE_RESULT "))
    found = json.loads(line.removeprefix("PUSHGATE_RESULT "))
    statuses = {str(k): int(v) for k, v in found["statuses"].items()}
    out = SubscribeRun(
        seconds=found["microseconds"] / 1e6,
        stored=statuses.pop("201", 0),
        p50_ms=found["p50_us"] / 1000,
        p99_ms=found["p99_us"] / 1000,
        max_ms=found["max_us"] / 1000,
    )
    out.errors = statuses | {
        k: found[k] for k in ("connect", "read", "write", "timeout") if found[k]
    }
    return out


def _subscribe_for(
    base_url: str, site_id: str, seconds: int, clients: int, server_pid: int, folder: Path
) -> SubscribeRun:
    script = folder / "subscribe.lua"
    script.write_text(wrk_script(f"{time.time_ns():x}"))
    url = f"{base_url}/v1/sites/{site_id}/subscriptions"
    duration = f"-d{max(1, round(seconds))}s"  # wrk takes whole seconds
    argv = ["wrk", "-t1", f"-c{clients}", duration, "--latency", "-s", str(script), url]
    server = procstat.tree(server_pid)
    server_cpu = procstat.cpu_seconds(server)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = parse_wrk(done.stdout)
    out.server_cpu_s = procstat.cpu_seconds(server) - server_cpu
    out.client_cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return out


async def _stored(database: str, site_id: str) -> int:
    async with open_store(database) as store:
        return await store.count_subscriptions(site_id, up_to=10**9)


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


def measure(folder: Path, seconds: int, clients: int) -> SubscribeRun:
    """One run on a new store: `clients` concurrent clients subscribing for `seconds`; then
    every subscribe answered 201 must be in the store (those still in flight when the clients
    stopped may be stored too, at most one per client)."""
    gateway = SubscribeGateway(folder)
    gateway.start()
    try:
        assert gateway.proc is not None
        found = _subscribe_for(
            gateway.base_url, gateway.site.id, seconds, clients, gateway.proc.pid, folder
        )
    finally:
        gateway.stop()
    stored = asyncio.run(_stored(gateway.site.database, gateway.site.id))
    if not found.stored <= stored <= found.stored + clients:
        found.errors["not stored"] = found.stored - stored
    return found


def suite_row(folder: Path, runs: int, quick: bool, log: Callable[[str], None]) -> Row:
    """The main table's row: `runs` runs of DEFAULT_SECONDS (QUICK_SECONDS when `quick`), each
    on a new store in `folder`; subscribes/s in the msgs/s column, the server's CPU per 1,000
    subscribes in the CPU column. A run with errors gives no rate."""
    seconds = QUICK_SECONDS if quick else DEFAULT_SECONDS
    label = f"subscribe throughput ({DEFAULT_CLIENTS} clients, wrk, SQLite): subscribes/s"
    row = Row(ROW_KEY, label, 0)
    for number in range(runs):
        log(f"subscribe throughput, run {number + 1}: {DEFAULT_CLIENTS} clients, {seconds:g} s ...")
        found = measure(folder, seconds, DEFAULT_CLIENTS)
        row.extras[f"run {number + 1}"] = found.summary()
        if found.errors:
            row.note = f"run {number + 1}: errors {found.errors}"
            continue
        row.rates.append(found.rate)
        row.figures[f"run_{number + 1}_p99_ms"] = found.p99_ms
        row.cpu_per_1k = found.server_cpu_s / found.stored * 1000
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.subscribe_rate", description=__doc__)
    parser.add_argument("--seconds", type=int, default=DEFAULT_SECONDS, help="per run")
    parser.add_argument("--clients", type=int, default=DEFAULT_CLIENTS, help="in flight")
    parser.add_argument("--runs", type=int, default=1, help="runs, each on a new store")
    args = parser.parse_args(argv)
    runs = []
    for number in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="pushgate-subscribe-rate-") as folder:
            found = measure(Path(folder), args.seconds, args.clients)
        runs.append(found)
        print(f"run {number + 1}: {args.clients} clients: {found.summary()}", flush=True)
    if len(runs) > 1:
        print(f"median: {statistics.median(r.rate for r in runs):,.0f} subscribes/s")
    return 1 if any(r.errors for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
