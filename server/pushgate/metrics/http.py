"""`GET /metrics`: on the main port by default, or on its own listener (PUSHGATE_METRICS_PORT),
and behind a bearer token when PUSHGATE_METRICS_TOKEN is set."""

from __future__ import annotations

import contextlib
import hmac
import logging
import socket
from collections.abc import AsyncIterator

import uvicorn
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pushgate.errors import ApiError
from pushgate.metrics import Metrics
from pushgate.settings import Settings

log = logging.getLogger("pushgate")

SHUTDOWN_SECONDS = 2


def metrics_route(settings: Settings, metrics: Metrics) -> Route:
    async def scrape(request: Request) -> Response:
        _check_token(settings.metrics_token, request.headers.get("authorization", ""))
        body = await metrics.exposition()
        return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)

    return Route("/metrics", scrape, methods=["GET"])


def _check_token(token: str, authorization: str) -> None:
    if not token:
        return
    scheme, _, given = authorization.partition(" ")
    # compare_digest: the time taken must not tell how much of a guess was right.
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise ApiError("unauthorized", "GET /metrics needs Authorization: Bearer <metrics token>")


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.error.code == "unauthorized" else None
    return JSONResponse(exc.to_json(), status_code=exc.status, headers=headers)


def metrics_app(route: Route) -> Starlette:
    """The app of the metrics listener: /metrics only."""
    return Starlette(routes=[route], exception_handlers={ApiError: _api_error})


@contextlib.asynccontextmanager
async def metrics_listener(settings: Settings, route: Route) -> AsyncIterator[None]:
    """Serve /metrics on settings.host:metrics_port in this process while the app runs."""
    sock = _bind(settings.host, settings.metrics_port)
    config = uvicorn.Config(
        metrics_app(route),
        log_level="warning",
        log_config=None,
        lifespan="off",
        server_header=False,
        timeout_graceful_shutdown=SHUTDOWN_SECONDS,
    )
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)  # "off": the metrics app has none
    # startup/shutdown, not serve(): serve() takes over the process's signal handlers, which
    # belong to the main server.
    await server.startup(sockets=[sock])
    log.info("metrics on http://%s:%d/metrics", settings.host, settings.metrics_port)
    try:
        yield
    finally:
        await server.shutdown(sockets=[sock])
        sock.close()


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen for metrics on {host}:{port}: {exc.strerror}") from exc
    sock.listen(128)
    sock.setblocking(False)
    return sock
