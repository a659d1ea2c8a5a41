"""The local push service: one port, the HTTP and WebSocket sides.

Plain by default, one aiohttp server. With `tls=True` the port speaks TLS and offers
`protocols` by ALPN: a connection that chose `h2` is served by `h2server.py`, one that chose
`http/1.1` (or none, when HTTP/1.1 is offered) by the same aiohttp server.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from aiohttp import web

from pushgate.testing.autopush import AutopushHub
from pushgate.testing.browser import SimulatedBrowser
from pushgate.testing.control import control_routes
from pushgate.testing.faults import Fault, FaultPlan
from pushgate.testing.h2server import DEFAULT_MAX_CONCURRENT_STREAMS, H2, H2ServerConnection
from pushgate.testing.push import PushHandler
from pushgate.testing.records import Ack, Journal, ReceivedMessage, RecordedRequest
from pushgate.testing.registry import Endpoints
from pushgate.testing.tls import TlsFiles, make_loopback_tls
from pushgate.testing.validation import VapidVerifier

LISTEN_BACKLOG = 1024  # a 1,000-subscriber fan-out may open hundreds of connections at once
SHUTDOWN_TIMEOUT_SECONDS = 1.0
HTTP11 = "http/1.1"
BOTH_PROTOCOLS = (H2, HTTP11)  # what push services that speak HTTP/2 offer, h2 preferred


class LocalPushService:
    """A push service on loopback that validates like Mozilla's autopush.

    Use `async with LocalPushService() as svc:` or `start()`/`stop()`. Port 0 picks a free port.
    `tls=True`: HTTPS with a certificate from a throwaway CA (`ca_cert`, for the client's
    `SSL_CERT_FILE`), offering `protocols` by ALPN: `("http/1.1",)` or `("h2",)` forces one.
    Each request's protocol is in `requests[i].protocol`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clock: Callable[[], float] = time.time,
        tls: bool = False,
        protocols: Sequence[str] = BOTH_PROTOCOLS,
        max_concurrent_streams: int = DEFAULT_MAX_CONCURRENT_STREAMS,
    ) -> None:
        unknown = set(protocols) - set(BOTH_PROTOCOLS)
        if unknown or not protocols:
            raise ValueError(f"protocols must be among {BOTH_PROTOCOLS}, not {protocols!r}")
        self.host = host
        self.port = port
        self.tls = tls
        self.protocols = tuple(protocols)
        self._max_streams = max_concurrent_streams
        self._clock = clock
        self._tls_files: TlsFiles | None = None
        self._tls_server: asyncio.Server | None = None
        self._h2_connections: set[H2ServerConnection] = set()
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
        return f"{'https' if self.tls else 'http'}://{self.host_port}"

    @property
    def ws_url(self) -> str:
        """Firefox's `dom.push.serverURL`."""
        return f"{'wss' if self.tls else 'ws'}://{self.host_port}/"

    @property
    def ca_cert(self) -> Path | None:
        """With `tls=True`, once started: the CA file a client must trust (`SSL_CERT_FILE`)."""
        return self._tls_files.ca_cert if self._tls_files is not None else None

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
        if self.tls:
            await self._start_tls(sock, push)
        else:
            await web.SockSite(self._runner, sock, backlog=LISTEN_BACKLOG).start()

    async def _start_tls(self, sock: socket.socket, push: PushHandler) -> None:
        self._tls_files = make_loopback_tls(Path(tempfile.mkdtemp(prefix="pushgate-push-tls-")))
        context = self._tls_files.server_context(self.protocols)
        http11 = self._runner.server if self._runner is not None else None
        assert http11 is not None

        def after_handshake(alpn: str | None) -> asyncio.Protocol | None:
            # No ALPN at all: HTTP/1.1 if offered, as a server that speaks both would answer.
            chosen = alpn or (HTTP11 if HTTP11 in self.protocols else None)
            if chosen == HTTP11:
                return http11()
            if chosen == H2:
                connection = H2ServerConnection(
                    push.answer,
                    max_concurrent_streams=self._max_streams,
                    on_close=self._h2_connections.discard,
                )
                self._h2_connections.add(connection)
                return connection
            return None

        self._tls_server = await asyncio.get_running_loop().create_server(
            lambda: _AlpnDispatch(after_handshake), sock=sock, ssl=context, backlog=LISTEN_BACKLOG
        )

    async def stop(self) -> None:
        if self._hub is not None:
            await self._hub.close_all()
        if self._tls_server is not None:
            self._tls_server.close()
            for connection in list(self._h2_connections):
                connection.close()
            self._tls_server = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._tls_files is not None:
            shutil.rmtree(self._tls_files.ca_cert.parent, ignore_errors=True)
            self._tls_files = None

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


class _AlpnDispatch(asyncio.Protocol):
    """A TLS connection's protocol until its handshake is done (asyncio calls
    `connection_made` then); it hands the connection on to the protocol ALPN chose."""

    def __init__(self, choose: Callable[[str | None], asyncio.Protocol | None]) -> None:
        self._choose = choose

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        protocol = self._choose(ssl_object.selected_alpn_protocol() if ssl_object else None)
        if protocol is None:
            transport.close()  # only h2 offered, and the client did not choose it
            return
        transport.set_protocol(protocol)
        protocol.connection_made(transport)


def _listen(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.setblocking(False)
    return sock
