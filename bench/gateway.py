"""A `pushgate serve` process for the benchmark: its own SQLite store, filled in bulk.

The gateway trusts the bench CA through `SSL_CERT_FILE` (aiohttp's default SSL context reads
it), and may push only to the sink's ports (`PUSHGATE_ALLOWED_PUSH_HOSTS`), the slow one
included.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.config import REPO_DIR, SITE_ORIGIN, SLOW_EVERY, VAPID_SUBJECT
from bench.env import BenchEnv
from pushgate.store import open_store
from pushgate.store.models import NewSubscription
from pushgate.subscribers import import_subscriptions
from pushgate.webpush.allowlist import EndpointPolicy

PUSHGATE = REPO_DIR / ".venv" / "bin" / "pushgate"
BULK_CHUNK = 20_000
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
# The bench is one client address and one API key standing for many visitors and a back end
# that polls a notification every 50 ms: the rate limits stay in the path, far above that.
BENCH_RATE_PER_MINUTE = 1_000_000


@dataclass(frozen=True)
class BenchSite:
    id: str
    api_key: str
    database: str  # sqlite:////abs/path.db


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_site(db_path: Path) -> BenchSite:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    database = f"sqlite:///{db_path.resolve()}"
    argv = [str(PUSHGATE), "sites", "create", "--name", "bench", "--origin", SITE_ORIGIN]
    done = subprocess.run(
        [*argv, "--json", "--database", database], capture_output=True, text=True, check=True
    )
    site = json.loads(done.stdout)
    return BenchSite(site["id"], site["api_key"], database)


def _allowed_hosts(env: BenchEnv) -> list[str]:
    return [f"127.0.0.1:{p}" for p in (*env.ports, env.slow_port)]


def _is_slow(i: int, sampled: dict[int, str]) -> bool:
    """One subscriber in SLOW_EVERY, spread through the audience so that every batch meets the
    sick service, is on it; never a sampled one, whose body the check waits for."""
    return i % SLOW_EVERY == SLOW_EVERY - 1 and i not in sampled


async def _bulk_insert(env: BenchEnv, site: BenchSite, size: int, slow: bool) -> tuple[int, int]:
    sampled = env.endpoint_of(size)
    policy = EndpointPolicy(_allowed_hosts(env))
    added = on_slow = 0
    async with open_store(site.database) as store:
        for start in range(0, size, BULK_CHUNK):
            subs = []
            for i in range(start, min(size, start + BULK_CHUNK)):
                p256dh, auth = env.keys.public_b64(i)
                if slow and _is_slow(i, sampled):
                    endpoint, on_slow = env.slow_endpoint(i), on_slow + 1
                else:
                    endpoint = env.endpoint(i, sampled)
                subs.append(NewSubscription(endpoint, p256dh, auth))
            added += await import_subscriptions(store, policy, site.id, subs)
    return added, on_slow


def fill_store(env: BenchEnv, site: BenchSite, size: int, *, slow: bool = False) -> int:
    """Put the same `size` subscriptions the peers use into the gateway's real store; with
    `slow`, one in SLOW_EVERY has its endpoint on the slow push service instead. Returns how
    many are on the slow service."""
    added, on_slow = asyncio.run(_bulk_insert(env, site, size, slow))
    if added != size:
        raise RuntimeError(f"store took {added} of {size} subscriptions")
    return on_slow


class HealthyLeft:
    """How many subscribers off the slow push service have no outcome recorded yet, for one
    notification: read from the gateway's SQLite file, read-only (WAL lets it read beside the
    gateway's writer), through the pending deliveries' partial index."""

    QUERY = """
        SELECT n.targeted, (
            SELECT count(*) FROM deliveries d JOIN subscriptions s ON s.key = d.subscription_key
            WHERE d.notification_key = n.key AND d.state = 'pending'
            AND substr(s.endpoint, 1, :length) != :prefix
        ) FROM notifications n WHERE n.id = :id
    """

    def __init__(self, site: BenchSite, size: int, slow_prefix: str) -> None:
        self.size, self.slow_prefix = size, slow_prefix
        path = site.database.removeprefix("sqlite:///")
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def __call__(self, notification_id: str) -> int:
        prefix = self.slow_prefix
        args = {"length": len(prefix), "prefix": prefix, "id": notification_id}
        row = self._db.execute(self.QUERY, args).fetchone()
        if row is None:
            return self.size
        targeted, pending = row
        return max(0, self.size - targeted) + pending  # not yet expanded, or not yet answered

    def close(self) -> None:
        self._db.close()


class Gateway:
    """Start and stop `pushgate serve` on a free loopback port."""

    def __init__(self, env: BenchEnv, site: BenchSite) -> None:
        self.env, self.site = env, site
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _environ(self) -> dict[str, str]:
        hosts = ",".join(_allowed_hosts(self.env))
        return self.env.client_env() | {
            "PUSHGATE_DATABASE": self.site.database,
            "PUSHGATE_HOST": "127.0.0.1",
            "PUSHGATE_PORT": str(self.port),
            "PUSHGATE_VAPID_SUBJECT": VAPID_SUBJECT,
            "PUSHGATE_ALLOWED_PUSH_HOSTS": hosts,
            "PUSHGATE_LOG_LEVEL": "warning",
            "PUSHGATE_RATE_LIMIT_PER_CLIENT": str(BENCH_RATE_PER_MINUTE),
            "PUSHGATE_RATE_LIMIT_PER_API_KEY": str(BENCH_RATE_PER_MINUTE),
        }

    def start(self) -> None:
        log = (self.env.out_dir / "pushgate.log").open("ab")
        self.proc = subprocess.Popen(
            [str(PUSHGATE), "serve"], env=self._environ(), stdout=log, stderr=log
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pushgate serve exited; see {self.env.out_dir}/pushgate.log")
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("pushgate serve did not answer /healthz")

    def push_services(self) -> dict[str, str]:
        """Each push service's state as `/healthz` shows it (ok, degraded, down)."""
        try:
            with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2) as resp:
                doc = json.load(resp)
        except urllib.error.HTTPError as exc:  # a 503 still carries the body
            doc = json.load(exc)
        except OSError:
            return {}
        services: dict[str, str] = doc.get("push_services", {})
        return services

    def terminate(self) -> None:
        """Ask it to stop (SIGTERM: it drains what is in flight); `stop` waits for it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.terminate()
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
