"""Request and response plumbing shared by the handlers: JSON bodies with a size limit, errors."""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pushgate.errors import ApiError

log = logging.getLogger("pushgate.api")


async def read_json(request: Request, limit: int) -> Any:
    """The request's JSON body; 413 past `limit` bytes (checked while reading), 400 if not JSON."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError("body_too_large", f"request body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError("body_too_large", f"request body is larger than {limit} bytes")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError("invalid_json", f"request body is not valid JSON: {exc}") from exc


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


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(ApiError("internal_error"))
