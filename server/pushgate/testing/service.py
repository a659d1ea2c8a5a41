"""The local push service: one aiohttp server, one port, the HTTP and WebSocket sides."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from types import TracebackType

from aiohttp import web

from pushgate.testing.autopush import AutopushHub
from pushgate.testing.browser import SimulatedBrowser
from pushgate.testing.control import control_routes
from pushgate.testing.faults import Fault, FaultPlan
from pushgate.testing.push import PushHandler
from pushgate.testing.records import Ack, Journal, ReceivedMessage, RecordedRequest
from pushgate.testing.registry import Endpoints
from pushgate.testing.validation import VapidVerifier

LISTEN_BACKLOG = 1024  # a 1,000-subscriber fan-out may open hundreds of connections at once
SHUTDOWN_TIMEOUT_SECONDS = 1.0


class LocalPushService:
    """A push service on loopback that validates like Mozilla's autopush.

    Use `async with LocalPushService() as svc:` or `start()`/`stop()`. Port 0 picks a free port.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.host = host
        self.port = port
        self._clock = clock
        self._journal = Journal()
        self._faults = FaultPlan()
        self._runner: web.AppRunner | None = None
        self._endpoints: Endpoints | None = None
        self._hub: AutopushHub | None = None
        self.browsers: dict[str, SimulatedBrowser] = {}

    @property
    def host_port(self) -> str:
        """`HOST:PORT`, as the gateway's push-host allowlist takes it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The origin, which is also the `aud` every VAPID JWT must carry (RFC 8292 §2)."""
        return f"http://{self.host_port}"

    @property
    def ws_url(self) -> str:
        """Firefox's `dom.push.serverURL`."""
        return f"ws://{self.host_port}/"

    @property
    def received(self) -> list[ReceivedMessage]:
        return self._journal.received

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._journal.requests

    @property
    def acks(self) -> list[Ack]:
        return self._journal.acks

    async def start(self) -> None:
        sock = _listen(self.host, self.port)
        self.port = sock.getsockname()[1]
        self._endpoints = Endpoints(self.base_url)
        self._hub = AutopushHub(self._endpoints, self._journal, clock=self._clock)
        verifier = VapidVerifier(self.base_url, clock=self._clock)
        push = PushHandler(
            self._endpoints, verifier, self._faults, self._hub, self._journal, clock=self._clock
        )
        app = web.Application()
        app.add_routes([web.get("/", self._hub.handle), web.post("/push/{id}", push.handle)])
        app.add_routes(control_routes(self))
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS
        )
        await self._runner.setup()
        await web.SockSite(self._runner, sock, backlog=LISTEN_BACKLOG).start()

    async def stop(self) -> None:
        if self._hub is not None:
            await self._hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LocalPushService:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def new_browser(self, application_server_key: str | None = None) -> SimulatedBrowser:
        """A new subscription; with `application_server_key` (base64url VAPID public key) it
        takes only pushes signed with that key, as a browser subscription made with one does."""
        endpoints = self._started()
        endpoint_id = endpoints.new_id()
        browser = SimulatedBrowser(endpoint_id, endpoints.url(endpoint_id), application_server_key)
        endpoints.add(endpoint_id, browser)
        self.browsers[endpoint_id] = browser
        return browser

    def unsubscribe(self, browser: SimulatedBrowser | str) -> None:
        """From now on the browser's endpoint (or this endpoint id) answers 410 Gone."""
        endpoint_id = browser if isinstance(browser, str) else browser.id
        self._started().remove(endpoint_id)

    def inject(self, fault: Fault) -> None:
        """Answer matching pushes as `fault` says, until its `times` run out or it is cleared."""
        self._faults.inject(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    async def wait_for_total(self, n: int, timeout: float = 30) -> list[ReceivedMessage]:
        """Wait until at least `n` messages were accepted (all endpoints); return them all."""
        await self._journal.wait_for_received(n, timeout)
        return self.received

    async def wait_for_acks(self, n: int, timeout: float = 30) -> list[Ack]:
        """Wait until WebSocket clients have acked at least `n` notifications."""
        await self._journal.wait_for_acks(n, timeout)
        return self.acks

    def _started(self) -> Endpoints:
        if self._endpoints is None:
            raise RuntimeError("start the LocalPushService first")
        return self._endpoints


def _listen(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.setblocking(False)
    return sock
