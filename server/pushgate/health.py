"""The gateway's health, as `/healthz` answers it and the home page shows it."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pushgate import __version__
from pushgate.api.context import AppContext, context
from pushgate.errors import ApiError
from pushgate.store.migrations import SCHEMA_VERSION

HEALTH_PROBE_SECONDS = 1.0  # /healthz writes to the database at most this often


async def check_health(ctx: AppContext) -> dict[str, Any]:
    """The health report; raises ApiError `store_unavailable` when the database takes no
    writes and `delivery_unavailable` when send workers are down."""
    await _check_store(ctx)
    body: dict[str, Any] = {"status": "ok", "version": __version__, "database": ctx.database}
    if ctx.engine is not None:
        health = ctx.engine.health()
        body["push_services"] = health["push_services"]
        body["send_workers"] = health["send_workers"]
        if not health["workers_ok"]:
            workers = health["send_workers"]
            raise ApiError(
                "delivery_unavailable",
                f"{workers['running']} of {workers['configured']} send workers are running",
            )
    return body


async def healthz(request: Request) -> Response:
    """200 when the database takes writes and the send workers run; each push service's state."""
    return JSONResponse(await check_health(context(request)))


async def _check_store(ctx: AppContext) -> None:
    now = time.monotonic()
    if now - ctx.store_checked_at < HEALTH_PROBE_SECONDS and ctx.store_ok:
        return
    try:
        await ctx.store.probe_write()
        ctx.database["schema"] = schema = await ctx.store.schema_version()
        ctx.database["schema_current"] = schema == SCHEMA_VERSION
    except Exception as exc:
        ctx.store_ok = False
        raise ApiError("store_unavailable", "the database cannot be written") from exc
    ctx.store_ok, ctx.store_checked_at = True, now
