"""Browser-test fixtures: the real gateway and a site on another origin as processes on free
ports, the local push service in-process, and Debian's Firefox ESR and Chromium through Playwright.

docs/architecture.md, "Browser tests", explains the Firefox prefs and why Chromium cannot
subscribe offline.
A missing browser binary fails the test with the apt-get line to run; nothing is skipped.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from pushgate.testing import LocalPushService

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "browser"
FIXTURES = Path(__file__).parent / "fixtures"
FIREFOX = "/usr/bin/firefox-esr"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 5.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_binary(path: str, package: str) -> None:
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(
            f"{path} is missing: the browser tests need Debian's {package} "
            f"(run `apt-get install -y {package}` as root, or `make system-deps`)",
            pytrace=False,
        )


@dataclass
class Process:
    """A child process whose output goes to a log file under artifacts/, stopped in `stop()`."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start_process(name: str, args: list[str], env: dict[str, str], ready_url: str) -> Process:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "logs" / f"{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        popen = subprocess.Popen(args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    process = Process(name, popen, log_path)
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            pytest.fail(f"{name} exited with {popen.returncode}:\n{process.log()}", pytrace=False)
        try:
            if httpx.get(ready_url, timeout=1).status_code < 500:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.stop()
    pytest.fail(f"{name} did not answer {ready_url} in time:\n{process.log()}", pytrace=False)


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHGATE_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Gateway:
    url: str
    database: str
    process: Process

    def create_site(self, name: str, origins: list[str]) -> dict[str, Any]:
        args = [sys.executable, "-m", "pushgate", "sites", "create", "--name", name, "--json"]
        for origin in origins:
            args += ["--origin", origin]
        result = subprocess.run(
            [*args, "--database", self.database, "--public-url", self.url],
            cwd=REPO,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return dict(json.loads(result.stdout))


@dataclass
class Site:
    """A site folder served on its own origin, registered at the gateway."""

    url: str
    id: str
    api_key: str
    vapid_public_key: str
    gateway: Gateway
    process: Process
    cleanup: list[Process] = field(default_factory=list)

    def admin(self) -> httpx.AsyncClient:
        # Async: the local push service shares the test's event loop and must keep answering.
        return httpx.AsyncClient(
            base_url=self.gateway.url,
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=10,
        )

    async def send(self, **body: Any) -> str:
        async with self.admin() as client:
            response = await client.post("/api/v1/notifications", json=body)
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    async def subscriptions(self) -> list[dict[str, Any]]:
        async with self.admin() as client:
            response = await client.get("/api/v1/subscriptions", params={"limit": 100})
        assert response.status_code == 200, response.text
        return list(response.json()["data"])

    async def counts(self, notification_id: str) -> dict[str, int]:
        async with self.admin() as client:
            response = await client.get(f"/api/v1/notifications/{notification_id}")
        assert response.status_code == 200, response.text
        return dict(response.json()["counts"])

    async def counted(self, notification_id: str, kind: str) -> dict[str, int] | None:
        """The counts once `kind` (delivered, clicked, dismissed, gone...) is at least 1."""
        counts = await self.counts(notification_id)
        return counts if counts[kind] >= 1 else None


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str, timeout: float = 45) -> T:
    """Poll `probe` until it returns something truthy; fail saying `what` did not happen."""
    deadline = time.monotonic() + timeout
    last = await probe()
    while not last:
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")
        await asyncio.sleep(0.2)
        last = await probe()
    return last


@pytest.fixture
async def push_service() -> AsyncIterator[LocalPushService]:
    async with LocalPushService() as service:
        yield service


@pytest.fixture
def gateway(
    push_service: LocalPushService, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Gateway]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database = f"sqlite:///{tmp_path / 'pushgate.db'}"
    env = child_env(
        PUSHGATE_HOST="127.0.0.1",
        PUSHGATE_PORT=str(port),
        PUSHGATE_DATABASE=database,
        PUSHGATE_PUBLIC_URL=url,
        PUSHGATE_VAPID_SUBJECT="mailto:ops@example.com",
        PUSHGATE_ALLOWED_PUSH_HOSTS=push_service.host_port,
        PUSHGATE_ENCRYPT_WORKERS="1",
    )
    process = start_process(
        f"{request.node.name}.gateway",
        [sys.executable, "-m", "pushgate", "serve"],
        env,
        f"{url}/healthz",
    )
    try:
        yield Gateway(url, database, process)
    finally:
        process.stop()


def serve_site(gateway: Gateway, root: Path, name: str, log_prefix: str) -> Site:
    """Register a site for a fresh origin and serve `root` there, placeholders filled in."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    created = gateway.create_site(name, [url])
    args = [
        sys.executable,
        "-m",
        "pushgate.demo",
        "--gateway-url",
        gateway.url,
        "--site-id",
        created["id"],
        "--port",
        str(port),
        "--root",
        str(root),
    ]
    process = start_process(f"{log_prefix}.{name}", args, child_env(), f"{url}/")
    return Site(
        url, created["id"], created["api_key"], created["vapid_public_key"], gateway, process
    )


@pytest.fixture
def demo_site(gateway: Gateway, request: pytest.FixtureRequest) -> Iterator[Site]:
    site = serve_site(gateway, REPO / "demo-site", "demo-site", request.node.name)
    try:
        yield site
    finally:
        site.process.stop()


@pytest.fixture
def existing_worker_site(gateway: Gateway, request: pytest.FixtureRequest) -> Iterator[Site]:
    site = serve_site(
        gateway, FIXTURES / "existing-worker", "existing-worker-site", request.node.name
    )
    try:
        yield site
    finally:
        site.process.stop()


async def wait_for_acks(push_service: LocalPushService, n: int, timeout: float = 30) -> list[int]:
    """The codes of Firefox's first `n` acks; on timeout, say what the push service saw."""
    try:
        acks = await push_service.wait_for_acks(n, timeout=timeout)
    except TimeoutError:
        seen = [(r.status, r.error) for r in push_service.requests]
        pytest.fail(
            f"Firefox acked {len(push_service.acks)} of {n} pushes in {timeout:.0f} s; push "
            f"requests (status, error): {seen}; received: {len(push_service.received)}",
            pytrace=False,
        )
    return [ack.code for ack in acks]


def firefox_prefs(push_service: LocalPushService) -> dict[str, Any]:
    """The prefs docs/architecture.md lists; each is needed for a push to reach headless Firefox."""
    return {
        "dom.push.serverURL": push_service.ws_url,
        "dom.push.testing.allowInsecureServerURL": True,
        "dom.push.connection.enabled": True,
        "dom.push.retryBaseInterval": 500,
        "permissions.default.desktop-notification": 1,
        "alerts.useSystemBackend": False,
        "network.dns.forceResolve": "127.0.0.1",
        "network.trr.mode": 5,
    }


@pytest.fixture
async def firefox(push_service: LocalPushService) -> AsyncIterator[Browser]:
    require_binary(FIREFOX, "firefox-esr")
    async with async_playwright() as playwright:
        browser = await playwright.firefox.launch(
            channel="moz-firefox",
            executable_path=FIREFOX,
            headless=True,
            firefox_user_prefs=firefox_prefs(push_service),
            # Lets the test click notifications from a privileged page (docs/architecture.md).
            env={**os.environ, "MOZ_REMOTE_ALLOW_SYSTEM_ACCESS": "1"},
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    require_binary(CHROMIUM, "chromium")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


def artifact(name: str) -> str:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return str(ARTIFACTS / name)


def csp_violations(page: Page) -> list[str]:
    """The Content-Security-Policy refusals `page` logs from now on (a list that grows): a page
    that keeps to its own policy leaves it empty."""
    blocked: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            blocked.append(message.text)

    page.on("console", on_console)
    return blocked
