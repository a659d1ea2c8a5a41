"""A `pushgate serve` process for the benchmark: its own SQLite store, filled in bulk.

The gateway trusts the bench CA through `SSL_CERT_FILE` (aiohttp's default SSL context reads
it), and may push only to the sink's ports (`PUSHGATE_ALLOWED_PUSH_HOSTS`).
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.config import REPO_DIR, SITE_ORIGIN, VAPID_SUBJECT
from bench.env import BenchEnv
from pushgate.store import open_store
from pushgate.store.models import NewSubscription
from pushgate.subscribers import import_subscriptions
from pushgate.webpush.allowlist import EndpointPolicy

PUSHGATE = REPO_DIR / ".venv" / "bin" / "pushgate"
BULK_CHUNK = 20_000
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


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


async def _bulk_insert(env: BenchEnv, site: BenchSite, size: int) -> int:
    sampled = env.endpoint_of(size)
    policy = EndpointPolicy(f"127.0.0.1:{p}" for p in env.ports)
    added = 0
    async with open_store(site.database) as store:
        for start in range(0, size, BULK_CHUNK):
            subs = []
            for i in range(start, min(size, start + BULK_CHUNK)):
                p256dh, auth = env.keys.public_b64(i)
                subs.append(NewSubscription(env.endpoint(i, sampled), p256dh, auth))
            added += await import_subscriptions(store, policy, site.id, subs)
    return added


def fill_store(env: BenchEnv, site: BenchSite, size: int) -> None:
    """Put the same `size` subscriptions the peers use into the gateway's real store."""
    added = asyncio.run(_bulk_insert(env, site, size))
    if added != size:
        raise RuntimeError(f"store took {added} of {size} subscriptions")


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
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.env.ports)
        return self.env.client_env() | {
            "PUSHGATE_DATABASE": self.site.database,
            "PUSHGATE_HOST": "127.0.0.1",
            "PUSHGATE_PORT": str(self.port),
            "PUSHGATE_VAPID_SUBJECT": VAPID_SUBJECT,
            "PUSHGATE_ALLOWED_PUSH_HOSTS": hosts,
            "PUSHGATE_LOG_LEVEL": "warning",
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

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
