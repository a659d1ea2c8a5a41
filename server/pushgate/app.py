"""The ASGI application, declared: routes, error handlers, and a lifespan that owns the parts."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from pushgate import docs_pages, home_page
from pushgate.analytics.retention import running_retention
from pushgate.api import (
    admin,
    event_hooks,
    failures,
    feeds,
    keys,
    notification_control,
    openapi,
    prompt_events,
    public,
    segments,
    site_rules,
    stats,
    tracking,
    triggers,
    webhooks,
)
from pushgate.api.context import AppContext
from pushgate.api.geo import open_country_finder
from pushgate.api.http import (
    contain_unexpected,
    handle_api_error,
    handle_http_exception,
    handle_unexpected,
)
from pushgate.api.limits import RateLimitMiddleware, RateLimits
from pushgate.api.ratelimit import Clock
from pushgate.api.site_cache import ForgetSitesOnChange, SiteCache
from pushgate.automation.feed_poller import running_poller
from pushgate.automation.trigger_engine import running_engine
from pushgate.clock import WallClock, wall_clock_from_env
from pushgate.dashboard import routes as dashboard
from pushgate.delivery.engine import DeliveryEngine
from pushgate.delivery.jobs import WorkerLimits
from pushgate.delivery.services import MAX_TIMEOUT_SECONDS
from pushgate.delivery.workers import SendWorkers
from pushgate.errors import ApiError
from pushgate.health import healthz
from pushgate.hooks_out.capture import EventCapture
from pushgate.hooks_out.dispatcher import running_dispatcher
from pushgate.metrics import DeliveryMetrics, Metrics
from pushgate.metrics.http import metrics_listener, metrics_route
from pushgate.settings import Settings
from pushgate.store import Store, StoreUnavailable, open_store
from pushgate.webpush.allowlist import EndpointPolicy

log = logging.getLogger("pushgate")

BROWSER_DIRS = {"static": "static", "sw": "sw"}


def browser_dir(name: str) -> Path:
    """The snippet and worker folders: inside the installed package, or at the repository root."""
    packaged = Path(__file__).parent / "browser" / name
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / name


class RevalidatedStaticFiles(StaticFiles):
    """The snippet and worker: browsers must ask again (ETag) so an upgrade reaches them."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


async def handle_store_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("%s %s: database unavailable: %s", request.method, request.url.path, exc)
    return JSONResponse(
        ApiError("store_unavailable", "the database cannot be written; try again").to_json(),
        status_code=503,
        headers={"Retry-After": "5"},
    )


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    deliver: bool = True,
    clock: Clock = time.monotonic,
    wall_clock: WallClock | None = None,
) -> Starlette:
    """Build the app; a `store` may be given, `deliver=False` runs no delivery engine,
    `clock` (monotonic seconds) drives the rate limits and `wall_clock` (epoch seconds;
    default: pushgate.clock's) scheduling."""
    limits = RateLimits(settings, clock=clock)  # SettingsError for a bad PUSHGATE_TRUSTED_PROXIES
    wall = wall_clock or wall_clock_from_env()
    metrics = Metrics()  # this app's own registry
    scrape = metrics_route(settings, metrics)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            the_store = (
                store
                if store is not None
                else await stack.enter_async_context(
                    open_store(settings, migrate=not settings.no_migrate)
                )
            )
            engine = None
            if deliver:
                engine = await start_engine(stack, settings, the_store, wall, metrics.delivery)
            metrics.bind(the_store, engine.health if engine else None)
            if settings.metrics_port:
                await stack.enter_async_context(metrics_listener(settings, scrape))
            app.state.ctx = AppContext(
                settings=settings,
                store=the_store,
                policy=EndpointPolicy(settings.allowed_push_hosts),
                engine=engine,
                event_secret=await the_store.event_secret(),
                countries=open_country_finder(settings, stack),
                clock=wall,
                database={"backend": "postgresql" if settings.uses_postgres else "sqlite"},
                hooks=EventCapture(the_store, wall),
                sites=SiteCache(the_store, clock),
            )
            if engine is not None:  # `sent` and `gone` events come from its outcome writes
                engine.outcomes.observer = app.state.ctx.hooks
            # Automation runs in every `serve` (its work is leased: once across a cluster).
            await stack.enter_async_context(running_engine(app.state.ctx))
            await stack.enter_async_context(running_poller(app.state.ctx))
            await stack.enter_async_context(running_retention(app.state.ctx))
            await stack.enter_async_context(
                running_dispatcher(the_store, wall, settings.allowed_hook_hosts)
            )
            yield

    routes = [
        *contain_unexpected(
            [
                Route("/healthz", healthz, methods=["GET"]),
                Route("/openapi.json", openapi.openapi_json, methods=["GET"]),
                *([] if settings.metrics_port else [scrape]),
            ]
        ),
        *home_page.routes,
        *docs_pages.routes,
        *public.routes,
        *admin.routes,
        *segments.routes,
        *notification_control.routes,
        *failures.routes,
        *site_rules.routes,
        *keys.routes,
        *webhooks.routes,
        *event_hooks.routes,
        *feeds.routes,
        *triggers.routes,
        *tracking.routes,
        *stats.routes,
        *prompt_events.routes,
        *dashboard.routes,
        *(
            Mount(f"/{url}", RevalidatedStaticFiles(directory=browser_dir(folder), check_dir=False))
            for url, folder in BROWSER_DIRS.items()
        ),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(RateLimitMiddleware, limits=limits),
            Middleware(ForgetSitesOnChange),
        ],
        lifespan=lifespan,
        exception_handlers={
            ApiError: handle_api_error,
            StoreUnavailable: handle_store_unavailable,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
    )


async def start_engine(
    stack: AsyncExitStack,
    settings: Settings,
    store: Store,
    clock: WallClock,
    metrics: DeliveryMetrics | None = None,
) -> DeliveryEngine:
    workers = SendWorkers(
        WorkerLimits(MAX_TIMEOUT_SECONDS, settings.max_in_flight_per_host, settings.http2),
        settings.send_workers,
    )
    await workers.start()
    stack.push_async_callback(workers.close)
    engine = DeliveryEngine(
        store,
        workers,
        vapid_subject=settings.vapid_subject,
        events_url=f"{settings.base_url}/v1/events",
        policy=EndpointPolicy(settings.allowed_push_hosts),
        push_timeout=settings.push_timeout,
        lease_seconds=settings.lease_seconds,
        clock=clock,
        metrics=metrics,
    )
    await engine.start()
    stack.push_async_callback(engine.stop)
    return engine
