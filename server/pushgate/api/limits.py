"""Which routes are rate-limited by what, and the middleware that answers 429 before they run.

The limits are checked before the route touches the store, so a flood (of bad API keys, say)
costs no database work; only the refusal of a browser-facing request reads the site, to send
the CORS headers the route would have sent, so the snippet can read the error code.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from pushgate.api import admin, public
from pushgate.api.client_address import ClientAddresses
from pushgate.api.http import error_response
from pushgate.api.ratelimit import Clock, RateLimiter, retry_after
from pushgate.errors import ApiError
from pushgate.settings import Settings

CorsLookup = Callable[[Request], Awaitable[dict[str, str]]]


@dataclass(frozen=True)
class Per:
    """A kind of bucket: the setting holding its rate a minute, and the key a request counts to."""

    what: str  # for the error message: "... a minute {what}"
    rate: Callable[[Settings], int]
    key: Callable[[Request, str], str]  # (request with its path params, client address) -> key


def _api_key_or_client(request: Request, client: str) -> str:
    # A hash, so no API key is kept in memory; without a key, the caller's address.
    api_key = admin.presented_api_key(request)
    if api_key is None:
        return f"address {client}"
    return "key " + hashlib.sha256(api_key.encode()).hexdigest()[:32]


PER_CLIENT = Per("from this address", lambda s: s.rate_limit_per_client, lambda _, client: client)
PER_SITE = Per(
    "for this site",
    lambda s: s.rate_limit_subscribe_per_site,
    lambda request, _: str(request.path_params["site_id"]),
)
PER_API_KEY = Per("with this API key", lambda s: s.rate_limit_per_api_key, _api_key_or_client)
# A webhook's URL is its API key: the same rate, counted per URL (a hash: no token in memory).
PER_WEBHOOK = Per(
    "for this webhook",
    lambda s: s.rate_limit_per_api_key,
    lambda request, _: "hook " + hashlib.sha256(request.path_params["token"].encode()).hexdigest(),
)


@dataclass(frozen=True)
class Limited:
    method: str  # "*": every method
    path: str  # a route path, as in the route table
    per: tuple[Per, ...]  # checked in order; the first refusal answers
    cors: CorsLookup | None = None  # the browser-facing route's CORS headers for a refusal


# The one list of rate-limited routes. Preflights (OPTIONS) and GET config are not limited.
LIMITED_ROUTES = (
    Limited("POST", "/v1/sites/{site_id}/subscriptions", (PER_CLIENT, PER_SITE), public.site_cors),
    Limited("DELETE", "/v1/sites/{site_id}/subscriptions", (PER_CLIENT,), public.site_cors),
    Limited("POST", "/v1/events", (PER_CLIENT,), public.events_cors),
    Limited("POST", "/v1/sites/{site_id}/track", (PER_CLIENT,), public.site_cors),
    Limited("POST", "/v1/sites/{site_id}/prompt-events", (PER_CLIENT,), public.site_cors),
    Limited("*", "/api/v1/{rest:path}", (PER_API_KEY,)),
    Limited("POST", "/hooks/{token}", (PER_WEBHOOK,)),
)


class RateLimits:
    """The limiters of `LIMITED_ROUTES`, built from the settings; a rate of 0 is no limit."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = time.monotonic,
        routes: tuple[Limited, ...] = LIMITED_ROUTES,
    ) -> None:
        self.settings = settings
        self._clients = ClientAddresses(settings.trusted_proxies)
        pers = {per for route in routes for per in route.per}
        self.limiters = {
            per: RateLimiter(per.rate(settings), clock=clock) for per in pers if per.rate(settings)
        }
        self._routes: list[tuple[Limited, re.Pattern[str]]] = [
            (route, compile_path(route.path)[0]) for route in routes
        ]

    async def refusal(self, scope: Scope) -> Response | None:
        """`429 rate_limited` with `Retry-After` if the request is over a limit, else None."""
        for route, pattern in self._routes:
            match = pattern.match(scope["path"])
            if match and route.method in ("*", scope["method"]):
                return await self._check(
                    route, Request({**scope, "path_params": match.groupdict()})
                )
        return None

    async def _check(self, route: Limited, request: Request) -> Response | None:
        client = self._clients.key(request.scope)
        for per in route.per:
            limiter = self.limiters.get(per)
            wait = 0.0 if limiter is None else limiter.acquire(per.key(request, client))
            if wait:
                return await self._refuse(route, request, per, wait)
        return None

    async def _refuse(self, route: Limited, request: Request, per: Per, wait: float) -> Response:
        message = f"over {per.rate(self.settings)} requests a minute {per.what}"
        browser = "origin" in request.headers  # no Origin: no CORS, and no store lookup
        headers = await route.cors(request) if route.cors is not None and browser else {}
        headers["Retry-After"] = retry_after(wait)
        return error_response(ApiError("rate_limited", message), headers)


class RateLimitMiddleware:
    """Answers requests over a limit of `limits` before routing them."""

    def __init__(self, app: ASGIApp, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = await self.limits.refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)
