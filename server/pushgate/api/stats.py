"""The stats API (issue #12 part 9): subscriber and notification series from the roll-ups,
and CSV exports of a site's notifications and subscribers, streamed. API-key authenticated,
like the rest of /api/v1; the dashboard reads the same service (pushgate.analytics)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pushgate.analytics.csv_export import csv_response, notifications_csv, subscribers_csv
from pushgate.analytics.series import (
    RangeError,
    StatsRange,
    notification_series,
    parse_range,
    subscriber_series,
)
from pushgate.api.admin import authenticated_site
from pushgate.api.context import context
from pushgate.api.http import json_response
from pushgate.errors import ApiError

RANGE_PARAMS = ("from", "to", "interval")


def stats_range(request: Request) -> StatsRange:
    """The request's from/to/interval, checked: 400 invalid_request saying what is wrong."""
    unknown = sorted(set(request.query_params) - set(RANGE_PARAMS))
    if unknown:
        raise ApiError("invalid_request", f"unknown query parameter {unknown[0]!r}")
    params = {name: request.query_params.get(name, "") for name in RANGE_PARAMS}
    try:
        return parse_range(params, context(request).clock())
    except RangeError as exc:
        raise ApiError("invalid_request", str(exc)) from exc


async def subscriber_stats(request: Request) -> Response:
    site = await authenticated_site(request)
    span = stats_range(request)
    series = await subscriber_series(context(request).store, site.id, span)
    return json_response({"interval": span.interval, "series": series})


async def notification_stats(request: Request) -> Response:
    site = await authenticated_site(request)
    span = stats_range(request)
    series = await notification_series(context(request).store, site.id, span)
    return json_response({"interval": span.interval, "series": series})


async def notifications_export(request: Request) -> Response:
    site = await authenticated_site(request)
    return csv_response(notifications_csv(context(request).store, site.id), "notifications.csv")


async def subscriptions_export(request: Request) -> Response:
    site = await authenticated_site(request)
    return csv_response(subscribers_csv(context(request).store, site.id), "subscriptions.csv")


routes = [
    Route("/api/v1/stats/subscribers", subscriber_stats, methods=["GET"]),
    Route("/api/v1/stats/notifications", notification_stats, methods=["GET"]),
    Route("/api/v1/notifications.csv", notifications_export, methods=["GET"]),
    Route("/api/v1/subscriptions.csv", subscriptions_export, methods=["GET"]),
]
