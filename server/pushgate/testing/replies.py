"""Answers in autopush's shape, so the gateway meets the JSON a real service sends."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus

MORE_INFO = "https://mozilla-services.github.io/autopush-rs/errors.html"
UNKNOWN_ERRNO = 999  # autopush's "unknown error"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"

# autopush's errno for statuses whose cause is not otherwise specific (injected faults).
DEFAULT_ERRNO = {404: 102, 410: 106, 413: 104, 401: 109, 503: 201}


@dataclass(frozen=True)
class PushAnswer:
    """What the service answers a push, whichever protocol carries it."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


class PushRejected(Exception):
    """A push the service refuses: HTTP status, autopush errno, human message."""

    def __init__(self, status: int, errno: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.errno = errno
        self.message = message


def error_answer(
    status: int, errno: int, message: str, headers: Mapping[str, str] | None = None
) -> PushAnswer:
    """`{"code", "errno", "error", "message", "more_info"}` as autopush answers every error."""
    body = {
        "code": status,
        "errno": errno,
        "error": _reason(status),
        "message": message,
        "more_info": MORE_INFO,
    }
    headers = {**(headers or {}), "Content-Type": JSON_CONTENT_TYPE}
    return PushAnswer(status, headers, json.dumps(body).encode())


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
