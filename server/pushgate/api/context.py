"""What the handlers need, built once by the app's lifespan."""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.requests import Request

from pushgate.api.geo import CountryFinder
from pushgate.clock import WallClock
from pushgate.delivery.engine import DeliveryEngine
from pushgate.settings import Settings
from pushgate.store import Store
from pushgate.webpush.allowlist import EndpointPolicy


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

    @property
    def events_url(self) -> str:
        return f"{self.settings.base_url}/v1/events"


def context(request: Request) -> AppContext:
    return request.app.state.ctx  # type: ignore[no-any-return]
