"""A `pushgate serve` process for the benchmark: its own store (a SQLite file, or a database on
the bench's PostgreSQL), filled in bulk; and `pushgate worker` processes beside it.

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

from bench.config import REPO_DIR, SITE_ORIGIN, SLOW_EVERY, VAPID_SUBJECT, subscriber_name
from bench.env import BenchEnv
from pushgate.store import open_store
from pushgate.store.models import NewSubscription, TagValue
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
    database: str  # sqlite:////abs/path.db, or postgresql://...


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_site(db_path: Path) -> BenchSite:
    """A site in a new SQLite file at `db_path` (an old one is removed)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    return create_site_in(f"sqlite:///{db_path.resolve()}")


def create_site_in(database: str) -> BenchSite:
    """A site made by `pushgate sites create` in the (empty) database at this URL."""
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
                tags: dict[str, TagValue] = {"name": subscriber_name(i)}  # the templated title's
                subs.append(NewSubscription(endpoint, p256dh, auth, tags=tags))
            added += await import_subscriptions(store, policy, site.id, subs)
    return added, on_slow


def fill_store(env: BenchEnv, site: BenchSite, size: int, *, slow: bool = False) -> int:
    """Put the same `size` subscriptions the peers use into the gateway's real store, each
    with its tag `name` (config.subscriber_name); with `slow`, one in SLOW_EVERY has its
    endpoint on the slow push service instead. Returns how many are on the slow service."""
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
    """Start and stop `pushgate serve` on a free loopback port; `extra` adds PUSHGATE_*
    variables (e.g. PUSHGATE_NO_DELIVER)."""

    name = "pushgate serve"

    def __init__(self, env: BenchEnv, site: BenchSite, extra: dict[str, str] | None = None) -> None:
        self.env, self.site, self.extra = env, site, extra or {}
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pids(self) -> list[int]:
        """The processes whose trees the row's CPU and memory figures cover."""
        return [] if self.proc is None else [self.proc.pid]

    def _environ(self) -> dict[str, str]:
        hosts = ",".join(_allowed_hosts(self.env))
        return (
            self.env.client_env()
            | {
                "PUSHGATE_DATABASE": self.site.database,
                "PUSHGATE_HOST": "127.0.0.1",
                "PUSHGATE_PORT": str(self.port),
                "PUSHGATE_VAPID_SUBJECT": VAPID_SUBJECT,
                "PUSHGATE_ALLOWED_PUSH_HOSTS": hosts,
                "PUSHGATE_LOG_LEVEL": "warning",
                "PUSHGATE_RATE_LIMIT_PER_CLIENT": str(BENCH_RATE_PER_MINUTE),
                "PUSHGATE_RATE_LIMIT_PER_API_KEY": str(BENCH_RATE_PER_MINUTE),
            }
            | self.extra
        )

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
        _terminate(self.proc)

    def stop(self) -> None:
        _stop(self.proc)


def _terminate(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    _terminate(proc)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


WORKER_READY = b"pushgate worker delivering"  # logged at info once its engine runs


class WorkersGateway(Gateway):
    """`pushgate serve --no-deliver` answering the API and `workers` `pushgate worker`
    processes sending, each with `send_workers` send-worker processes (PostgreSQL only)."""

    name = "pushgate serve --no-deliver + workers"

    def __init__(self, env: BenchEnv, site: BenchSite, workers: int, send_workers: int) -> None:
        super().__init__(env, site, {"PUSHGATE_NO_DELIVER": "1"})
        self.count, self.send_workers = workers, send_workers
        self.workers: list[subprocess.Popen[bytes]] = []

    @property
    def pids(self) -> list[int]:
        return super().pids + [w.pid for w in self.workers]

    def start(self) -> None:
        super().start()
        env = self._environ() | {  # `worker` ignores the serve-only variables
            "PUSHGATE_SEND_WORKERS": str(self.send_workers),
            "PUSHGATE_LOG_LEVEL": "info",
        }
        logs = [self.env.out_dir / f"pushgate-worker-{n}.log" for n in range(self.count)]
        for path in logs:
            path.unlink(missing_ok=True)
            with path.open("ab") as log:
                command = [str(PUSHGATE), "worker"]
                self.workers.append(subprocess.Popen(command, env=env, stdout=log, stderr=log))
        try:
            self._wait_ready(logs)
        except RuntimeError:
            self.stop()
            raise

    def _wait_ready(self, logs: list[Path]) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        waiting = list(zip(self.workers, logs, strict=True))
        while waiting:
            if time.monotonic() > deadline:
                raise RuntimeError("pushgate worker did not start")
            for proc, path in list(waiting):
                if proc.poll() is not None:
                    raise RuntimeError(f"pushgate worker exited; see {path}")
                if WORKER_READY in path.read_bytes():
                    waiting.remove((proc, path))
            time.sleep(0.1)

    def terminate(self) -> None:
        for proc in self.workers:
            _terminate(proc)
        super().terminate()

    def stop(self) -> None:
        self.terminate()
        for proc in self.workers:
            _stop(proc)
        self.workers = []
        super().stop()
