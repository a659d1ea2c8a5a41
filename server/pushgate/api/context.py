"""What the handlers need, built once by the app's lifespan."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from pushgate.api.geo import CountryFinder
from pushgate.api.site_cache import SiteCache
from pushgate.clock import WallClock
from pushgate.delivery.engine import DeliveryEngine
from pushgate.hooks_out.capture import EventCapture
from pushgate.settings import Settings
from pushgate.store import Store
from pushgate.webpush.allowlist import EndpointPolicy

log = logging.getLogger("pushgate.api")


@dataclass
class AppContext:
    settings: Settings
    store: Store
    policy: EndpointPolicy
    engine: DeliveryEngine | None
    event_secret: bytes
    countries: CountryFinder | None = None  # PUSHGATE_GEOIP_DATABASE
    store_ok: bool = False  # the last write probe (for /healthz) succeeded
    store_checked_at: float = 0.0
    clock: WallClock = time.time  # scheduling's wall clock (pushgate.clock)
    database: dict[str, Any] = field(default_factory=dict)  # /healthz: backend and schema
    hooks: EventCapture | None = None  # event streams out: what the site's hooks want
    sites: SiteCache | None = None  # the browser-facing routes' sites, kept for a moment

    @property
    def events_url(self) -> str:
        return f"{self.settings.base_url}/v1/events"


def context(request: Request) -> AppContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


async def announce(ctx: AppContext, event: str) -> None:
    """Tell this gateway's engine at once, and every other gateway on the same database
    (PostgreSQL's NOTIFY; SQLite has no others). A lost announcement costs a poll interval."""
    if ctx.engine is not None:
        ctx.engine.heard(event)
    try:
        await ctx.store.announce(event)
    except Exception as exc:  # the write it announces is done: never fail the request here
        log.warning("could not announce %s to other gateways: %s", event, exc)
