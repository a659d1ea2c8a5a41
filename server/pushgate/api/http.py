"""Request and response plumbing shared by the handlers: strict JSON bodies with a size limit,
the one error shape, and unexpected errors answered with a request id instead of a flood of logs.
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pushgate.api import strict_json
from pushgate.errors import ApiError

log = logging.getLogger("pushgate.api")

Endpoint = Callable[[Request], Awaitable[Response]]

TRACEBACK_INTERVAL_SECONDS = 60.0  # one traceback a minute per distinct error, at most
MAX_REMEMBERED_ERRORS = 1024  # distinct errors whose last traceback time is kept
MAX_LOGGED_TEXT = 300  # characters of a path or exception message in a log line
_UNLOGGABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")  # controls, lone surrogates


async def read_json(request: Request, limit: int) -> Any:
    """The request's body as strict JSON (see `strict_json`): 413 past `limit` bytes (checked
    while reading), 400 `invalid_json` for anything else it refuses."""
    return parse_json(await read_body(request, limit))


def parse_json(raw: bytes) -> Any:
    try:
        return strict_json.loads(raw)
    except strict_json.StrictJsonError as exc:
        raise ApiError("invalid_json", f"request body is not valid JSON: {exc}") from exc


async def read_body(request: Request, limit: int) -> bytes:
    """The request's raw body: 413 past `limit` bytes, checked while reading."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise ApiError("body_too_large", f"request body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError("body_too_large", f"request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(data, status_code=status, headers=headers)


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(error.to_json(), status_code=error.status, headers=headers)


async def handle_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc, getattr(exc, "headers", None))


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return error_response(ApiError("method_not_allowed"))
    if exc.status_code == 404:
        return error_response(ApiError("not_found", f"no route for {request.url.path}"))
    return error_response(ApiError("invalid_request", str(exc.detail)))


class TracebackThrottle:
    """Says whether an error's traceback is due: once per `interval` per distinct error, that is
    per exception type and the line that raised it."""

    def __init__(
        self,
        interval: float = TRACEBACK_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._last: dict[tuple[str, str, int], float] = {}

    def due(self, exc: BaseException) -> bool:
        key, now = _error_site(exc), self._clock()
        last = self._last.pop(key, None)
        if last is not None and now - last < self._interval:
            self._last[key] = last
            return False
        if len(self._last) >= MAX_REMEMBERED_ERRORS:
            del self._last[next(iter(self._last))]  # the one logged longest ago
        self._last[key] = now
        return True


class UnexpectedErrors:
    """Answers an unexpected exception with `500 internal_error` and a request id; logs one line
    naming the request, with the traceback only when the throttle says it is due."""

    def __init__(self, throttle: TracebackThrottle | None = None) -> None:
        self.throttle = throttle or TracebackThrottle()

    async def __call__(self, request: Request, exc: Exception) -> Response:
        return self.respond(request, exc)

    def respond(self, request: Request, exc: BaseException) -> Response:
        request_id = secrets.token_hex(8)
        due = self.throttle.due(exc)
        log.error(
            "internal_error request_id=%s %s %s raised %s%s",
            request_id,
            *_describe(request, exc),
            "" if due else " (traceback logged in the last minute)",
            exc_info=exc if due else None,
        )
        error = ApiError("internal_error", f"unexpected error; request id {request_id}")
        return error_response(error, {"X-Request-Id": request_id})


handle_unexpected = UnexpectedErrors()


def contain_unexpected(routes: Sequence[Route]) -> list[Route]:
    """The routes, each endpoint answering its unexpected errors itself.

    Starlette's handler for `Exception` answers, then re-raises the error so that the server
    logs its traceback too, every time; an error answered inside the route goes no further.
    Errors the app has a handler for (ApiError, HTTPException, ...) still go to that handler.
    """
    return [Route(r.path, _contained(r.endpoint), methods=r.methods, name=r.name) for r in routes]


def _contained(endpoint: Endpoint) -> Endpoint:
    @functools.wraps(endpoint)
    async def contained(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Exception as exc:
            if _has_handler(request, exc):
                raise
            return handle_unexpected.respond(request, exc)

    return contained


def _has_handler(request: Request, exc: Exception) -> bool:
    """Whether the app's exception handlers (Starlette's ExceptionMiddleware) take `exc`."""
    handlers = request.scope.get("starlette.exception_handlers", ({}, {}))[0]
    return isinstance(exc, ApiError | HTTPException) or any(
        kind in handlers for kind in type(exc).__mro__
    )


def _error_site(exc: BaseException) -> tuple[str, str, int]:
    """The exception's type and the file and line that raised it."""
    kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
    tb = exc.__traceback__
    if tb is None:
        return kind, "", 0
    while tb.tb_next is not None:
        tb = tb.tb_next
    return kind, tb.tb_frame.f_code.co_filename, tb.tb_lineno


def _describe(request: Request, exc: BaseException) -> tuple[str, str, str]:
    """Method, path and `Type: message`, each safe to put on one log line."""
    error = f"{type(exc).__qualname__}: {exc}"
    return request.method, _loggable(request.url.path), _loggable(error)


def _loggable(text: str) -> str:
    """One line whatever the client sent: controls and lone surrogates escaped, length capped."""
    return _UNLOGGABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text[:MAX_LOGGED_TEXT])
