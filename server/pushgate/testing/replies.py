"""Error answers in autopush's shape, so the gateway meets the JSON a real service sends."""

from __future__ import annotations

from http import HTTPStatus

from aiohttp import web

MORE_INFO = "https://mozilla-services.github.io/autopush-rs/errors.html"
UNKNOWN_ERRNO = 999  # autopush's "unknown error"

# autopush's errno for statuses whose cause is not otherwise specific (injected faults).
DEFAULT_ERRNO = {404: 102, 410: 106, 413: 104, 401: 109, 503: 201}


class PushRejected(Exception):
    """A push the service refuses: HTTP status, autopush errno, human message."""

    def __init__(self, status: int, errno: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.errno = errno
        self.message = message


def error_response(
    status: int, errno: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    """`{"code", "errno", "error", "message", "more_info"}` as autopush answers every error."""
    body = {
        "code": status,
        "errno": errno,
        "error": _reason(status),
        "message": message,
        "more_info": MORE_INFO,
    }
    return web.json_response(body, status=status, headers=headers)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
