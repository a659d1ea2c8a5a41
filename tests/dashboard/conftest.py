"""Dashboard fixtures: one real gateway for the module, on the test clock (PUSHGATE_TEST_CLOCK_FILE)
and behind a trusted proxy (127.0.0.1), so that each test logs in from its own client address
(X-Forwarded-For) and a lockout in one test never reaches another."""

from __future__ import annotations

import itertools
import re
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from pushgate.clock import TEST_CLOCK_ENV, FileClock
from pushgate.dashboard.accounts import create_operator
from pushgate.store import open_store
from tests.conftest import Gateway, _gateway_factory, pushgate_command

START = 1_800_000_000.0  # the test clock's time when the gateway starts
PASSWORD = "correct horse battery staple"
_addresses = itertools.count(1)
_emails = itertools.count(1)


@dataclass
class DashboardGateway:
    gateway: Gateway
    clock_file: Path | None = None  # None: the gateway runs on the real clock

    @property
    def url(self) -> str:
        return self.gateway.base_url

    def now(self) -> float:
        return float(self.clock_file.read_text()) if self.clock_file else time.time()

    def advance(self, seconds: float) -> None:
        assert self.clock_file is not None, "this gateway runs on the real clock"
        FileClock.write(self.clock_file, self.now() + seconds)

    def users(self, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
        """`pushgate users ARGS` on the gateway's database; `password` goes to stdin."""
        return subprocess.run(
            pushgate_command("users", *args),
            env=self.gateway.env,
            input=None if password is None else password + "\n",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    async def add_user(self, role: str = "admin", *sites: str, email: str | None = None) -> str:
        """A new operator, made in-process as `pushgate users create` makes it (that command's
        own tests run it as a process; here a process per operator would cost seconds)."""
        email = email or f"operator{next(_emails)}@example.com"
        async with open_store(self.gateway.database) as store:
            await create_operator(store, email, role, sites, PASSWORD, self.now())
        return email

    def add_site(self, name: str) -> dict[str, Any]:
        return self.gateway.create_site(name=name)


def pushing_gateways(
    folder: Path, request: pytest.FixtureRequest, push_port: int, **env: str
) -> Iterator[DashboardGateway]:
    """The module's gateway (one per backend run) pushing to the local push service at
    `push_port`, on a test clock that starts at the real time: what browsers report and what
    the store stamps from the machine's clock then agree with it."""
    clock_file = folder / "clock"
    FileClock.write(clock_file, time.time())
    for make in _gateway_factory(folder, request):
        yield DashboardGateway(
            make(push_port, **{TEST_CLOCK_ENV: str(clock_file)}, **env), clock_file
        )


@pytest.fixture(scope="module")
def dashboard(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[DashboardGateway]:
    folder = tmp_path_factory.mktemp("dashboard")
    clock_file = folder / "clock"
    FileClock.write(clock_file, START)
    for make in _gateway_factory(folder, request):
        gateway = make(**{TEST_CLOCK_ENV: str(clock_file), "PUSHGATE_TRUSTED_PROXIES": "127.0.0.1"})
        yield DashboardGateway(gateway, clock_file)


def new_address() -> str:
    """A client address of its own (TEST-NET-2), seen through the trusted proxy."""
    n = next(_addresses)
    return f"198.51.{n // 250}.{n % 250 + 1}"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


class Visitor:
    """A browser: its own cookies and its own client address."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.http = client

    async def login(
        self, email: str, password: str = PASSWORD, next_path: str | None = None
    ) -> httpx.Response:
        form = await self.http.get("/dashboard/login")
        assert form.status_code == 200, form.text
        data = {"csrf_token": csrf_of(form.text), "email": email, "password": password}
        if next_path is not None:
            data["next"] = next_path
        return await self.http.post("/dashboard/login", data=data)

    async def logged_in(self, email: str) -> Visitor:
        answer = await self.login(email)
        assert answer.status_code == 303, answer.text
        return self

    async def csrf(self, path: str = "/dashboard/") -> str:
        page = await self.http.get(path)
        assert page.status_code == 200, page.text
        return csrf_of(page.text)


@pytest.fixture
async def visitor(dashboard: DashboardGateway) -> AsyncIterator[Visitor]:
    async with visit(dashboard) as one:
        yield one


@asynccontextmanager
async def visit(dashboard: DashboardGateway, address: str | None = None) -> AsyncIterator[Visitor]:
    """A new browser, from `address` (default: an address of its own)."""
    headers = {"X-Forwarded-For": address or new_address()}
    async with httpx.AsyncClient(base_url=dashboard.url, timeout=30, headers=headers) as client:
        yield Visitor(client)
