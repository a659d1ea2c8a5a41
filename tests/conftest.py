"""Shared fixtures: a real gateway process on a loopback port, and the local push service."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from pushgate.testing import LocalPushService
from pushgate.testing.postgres import LocalPostgres

ORIGIN = "https://news.example"
VAPID_SUBJECT = "mailto:ops@news.example"
UNUSED_PUSH_HOST = "127.0.0.1:9"  # allowed as an endpoint host; nothing listens there
# Every test client is 127.0.0.1, and a broadcast test subscribes a thousand browsers from it;
# tests/api/test_rate_limits.py tests the limits, and a test may set them again in `extra_env`.
NO_RATE_LIMITS = {
    "PUSHGATE_RATE_LIMIT_PER_CLIENT": "0",
    "PUSHGATE_RATE_LIMIT_SUBSCRIBE_PER_SITE": "0",
    "PUSHGATE_RATE_LIMIT_PER_API_KEY": "0",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pushgate_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pushgate", *args]


@dataclass
class Gateway:
    """A `pushgate serve` process; the same database survives `kill()` and `start()`."""

    database: str
    port: int
    allowed_push_hosts: str
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None  # stderr goes here when set (appended across restarts)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return (
            os.environ
            | {
                "PUSHGATE_DATABASE": self.database,
                "PUSHGATE_VAPID_SUBJECT": VAPID_SUBJECT,
                "PUSHGATE_ALLOWED_PUSH_HOSTS": self.allowed_push_hosts,
                "PUSHGATE_PORT": str(self.port),
                "PUSHGATE_LOG_LEVEL": "warning",
            }
            | NO_RATE_LIMITS
            | self.extra_env
        )

    def start(self) -> None:
        log = self.log_path.open("ab") if self.log_path else None
        self.process = subprocess.Popen(pushgate_command("serve"), env=self.env, stderr=log)
        if log is not None:
            log.close()  # the child has its own copy
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("gateway did not answer /healthz within 30 s")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers run, as in a crash."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def create_site(
        self, name: str = "news", origins: tuple[str, ...] = (ORIGIN,)
    ) -> dict[str, Any]:
        args = ["sites", "create", "--name", name, "--json"]
        for origin in origins:
            args += ["--origin", origin]
        out = subprocess.run(
            pushgate_command(*args), env=self.env, check=True, capture_output=True, text=True
        )
        return json.loads(out.stdout)


BACKEND = os.environ.get("PUSHGATE_TEST_BACKEND", "sqlite")  # `postgresql`: gateways on it


def _gateway_factory(folder: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Gateways on SQLite files in `folder`, or with PUSHGATE_TEST_BACKEND=postgresql each on
    a new database of the session's PostgreSQL server."""
    started: list[Gateway] = []

    def database() -> str:
        if BACKEND == "postgresql":
            cluster: LocalPostgres = request.getfixturevalue("postgres_cluster")
            return cluster.create_database()
        return f"sqlite:///{folder / f'pushgate-{len(started)}.db'}"

    def make(allowed_push_hosts: str = UNUSED_PUSH_HOST, **extra_env: str) -> Gateway:
        gateway = Gateway(
            database=database(),
            port=free_port(),
            allowed_push_hosts=allowed_push_hosts,
            extra_env=extra_env,
        )
        gateway.start()
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        gateway.stop()


@pytest.fixture
def gateway_factory(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    yield from _gateway_factory(tmp_path, request)


@pytest.fixture(scope="module")
def module_gateway(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Gateway]:
    """One gateway for a module of tests that need no push service (validation, auth)."""
    for make in _gateway_factory(tmp_path_factory.mktemp("gateway"), request):
        yield make()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[LocalPostgres]:
    """One throwaway PostgreSQL server for the session, started the first time a test asks."""
    cluster = LocalPostgres(free_port())
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: LocalPostgres) -> str:
    """A new, empty PostgreSQL database."""
    return postgres_cluster.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database of each backend: a store test that takes this runs on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'pushgate.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def push_protocol(request: pytest.FixtureRequest) -> str | None:
    """None: the push service speaks plain HTTP/1.1, as for most tests. A test marked
    `@OVER_HTTP1_AND_HTTP2` runs twice, against a TLS push service that speaks only "http/1.1",
    then one that offers "h2" and "http/1.1" by ALPN (as FCM, Apple and Mozilla do)."""
    return getattr(request, "param", None)


OVER_HTTP1_AND_HTTP2 = pytest.mark.parametrize("push_protocol", ["http/1.1", "h2"], indirect=True)
PUSH_SERVICE_OFFERS = {"http/1.1": ("http/1.1",), "h2": ("h2", "http/1.1")}


@pytest.fixture
async def push_service(push_protocol: str | None) -> AsyncIterator[LocalPushService]:
    if push_protocol is None:
        service = LocalPushService()
    else:
        service = LocalPushService(tls=True, protocols=PUSH_SERVICE_OFFERS[push_protocol])
    async with service:
        yield service


def assert_every_push_came_over(push_service: LocalPushService, protocol: str | None) -> None:
    """Each request the push service saw came over `protocol` (None: plain HTTP/1.1), so a
    test of the h2 path cannot pass on HTTP/1.1."""
    seen = Counter(r.protocol for r in push_service.requests)
    assert seen and set(seen) == {protocol or "http/1.1"}, f"requests by protocol: {seen}"


def push_service_env(push_service: LocalPushService) -> dict[str, str]:
    """What a gateway needs to trust the push service's certificate, when it has one."""
    ca_cert = push_service.ca_cert
    return {} if ca_cert is None else {"SSL_CERT_FILE": str(ca_cert)}


@dataclass
class Site:
    id: str
    api_key: str
    vapid_public_key: str
    gateway: Gateway

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def subscriptions_url(self) -> str:
        return f"/v1/sites/{self.id}/subscriptions"


def site_of(gateway: Gateway, name: str = "news") -> Site:
    """A new site on `gateway`, through `pushgate sites create`."""
    created = gateway.create_site(name=name)
    return Site(created["id"], created["api_key"], created["vapid_public_key"], gateway)


@pytest.fixture
async def gateway(gateway_factory: Any, push_service: LocalPushService) -> Gateway:
    return gateway_factory(push_service.host_port, **push_service_env(push_service))


def site_name_for(test_name: str) -> str:
    """The test's name as a site name: cut to the 100 characters a name may have, and kept
    unique (parametrized names may share their first 100) by a hash of the whole."""
    if len(test_name) <= 100:
        return test_name
    return f"{test_name[:87]}-{hashlib.sha256(test_name.encode()).hexdigest()[:12]}"


@pytest.fixture
def site(gateway: Gateway, request: pytest.FixtureRequest) -> Site:
    created = gateway.create_site(name=site_name_for(request.node.name))
    return Site(created["id"], created["api_key"], created["vapid_public_key"], gateway)


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as http:
        yield http


async def subscribe_all(
    client: httpx.AsyncClient, site: Site, browsers: list[Any], concurrency: int = 50, **extra: Any
) -> list[str]:
    """Subscribe simulated browsers through the public API, as the snippet does."""
    gate = asyncio.Semaphore(concurrency)

    async def one(browser: Any) -> str:
        async with gate:
            answer = await client.post(
                site.subscriptions_url,
                json={"subscription": browser.subscription(), **extra},
                headers={"Origin": ORIGIN},
            )
            assert answer.status_code == 201, answer.text
            return str(answer.json()["id"])

    return list(await asyncio.gather(*(one(b) for b in browsers)))


async def wait_until_done(
    client: httpx.AsyncClient, site: Site, notification_id: str, timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        answer = await client.get(
            f"/api/v1/notifications/{notification_id}", headers=site.admin_headers
        )
        status = answer.json()
        if status["status"] == "done":
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"notification not done after {timeout} s: {status}")
        await asyncio.sleep(0.1)
