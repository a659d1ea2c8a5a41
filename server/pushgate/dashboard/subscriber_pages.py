"""Subscribers (issue #12 part 5): the total and its growth per day (new, gone or unsubscribed,
net), churn, breakdowns by browser, push service, language, country and time zone, a
searchable list with a Delete button per subscription, and CSV exports.

Everything is read through pushgate.analytics, the service the stats API uses: the series
from the daily roll-ups and the breakdowns from the counters the store keeps, so that a site
with a million subscribers costs a few small indexed reads, never a GROUP BY per page view."""

from __future__ import annotations

from urllib.parse import urlencode

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pushgate.analytics.csv_export import csv_response, notifications_csv, subscribers_csv
from pushgate.analytics.series import StatsRange, iso, subscriber_series
from pushgate.analytics.subscribers import breakdowns, remove_subscriber, search
from pushgate.api.context import context
from pushgate.dashboard.charts import Series, bar_chart, line_chart
from pushgate.dashboard.guard import operator_page
from pushgate.dashboard.navigation import see_other
from pushgate.dashboard.pages import render
from pushgate.dashboard.site_access import not_found_page, visible_site
from pushgate.store.operator_rows import DashboardSession
from pushgate.store.stats_rows import DAY_SECONDS, bucket_of

PERIODS = (7, 30, 90, 365)  # days the charts may show
DEFAULT_DAYS = 30
PAGE_SIZE = 50  # subscriptions per page of the list
MAX_CURSOR = 2**63 - 1


def _days(request: Request) -> int:
    asked = request.query_params.get("days", "")
    return int(asked) if asked in {str(p) for p in PERIODS} else DEFAULT_DAYS


def _after(request: Request) -> int:
    text = request.query_params.get("after", "")
    return int(text) if text.isascii() and text.isdigit() and int(text) <= MAX_CURSOR else 0


@operator_page
async def subscribers_page(request: Request, session: DashboardSession) -> Response:
    site = await visible_site(request, session)
    if site is None:
        return not_found_page(request, session)
    ctx = context(request)
    days = _days(request)
    end = bucket_of(ctx.clock(), "day") + DAY_SECONDS
    series = await subscriber_series(
        ctx.store, site.id, StatsRange("day", end - days * DAY_SECONDS, end)
    )
    query = request.query_params.get("q", "")
    after = _after(request)
    found, next_key = await search(ctx.store, site.id, query, limit=PAGE_SIZE, after=after)
    next_url = None
    if next_key is not None:
        next_url = "?" + urlencode({"q": query, "days": days, "after": next_key}) + "#list"
    return render(
        request,
        "subscribers.html",
        session=session,
        site=site,
        days=days,
        periods=PERIODS,
        total=series[-1]["total"] if series else 0,
        charts=_charts(series),
        period_totals={
            name: sum(point[name] for point in series) for name in ("new", "unsubscribed", "gone")
        },
        breakdowns=await breakdowns(ctx.store, site.id),
        query=query,
        found=found,
        first_page=after == 0,
        next_url=next_url,
        deleted=request.query_params.get("deleted") == "1",
        iso=iso,
    )


def _charts(series: list[dict[str, int | str]]) -> list[Markup]:
    ticks = [str(point["t"])[5:10] for point in series]  # MM-DD

    def values(name: str) -> list[float]:
        return [float(point[name]) for point in series]

    return [
        line_chart(
            chart_id="subscribers-total",
            title="Subscribers",
            x_label="Day (UTC)",
            y_label="Subscribers",
            x_ticks=ticks,
            series=[Series("Total", values("total"))],
        ),
        bar_chart(
            chart_id="subscribers-growth",
            title="Growth per day",
            x_label="Day (UTC)",
            y_label="Subscribers",
            x_ticks=ticks,
            series=[
                Series("New", values("new")),
                Series(
                    "Gone or unsubscribed",
                    [float(p["gone"]) + float(p["unsubscribed"]) for p in series],
                ),
                Series("Net", values("net")),
            ],
        ),
        line_chart(
            chart_id="subscribers-churn",
            title="Churn per day",
            x_label="Day (UTC)",
            y_label="Subscribers",
            x_ticks=ticks,
            series=[
                Series("Expired (gone)", values("gone")),
                Series("Unsubscribed", values("unsubscribed")),
            ],
        ),
    ]


@operator_page
async def delete_subscriber(request: Request, session: DashboardSession) -> Response:
    site = await visible_site(request, session)
    if site is None:
        return not_found_page(request, session)
    subscription_id = str(request.path_params["subscription_id"])
    if not await remove_subscriber(context(request), site.id, subscription_id):
        return not_found_page(request, session)  # gone meanwhile, or never this site's
    return see_other(f"/dashboard/sites/{site.id}/subscribers?deleted=1#list")


@operator_page
async def subscribers_export(request: Request, session: DashboardSession) -> Response:
    site = await visible_site(request, session)
    if site is None:
        return not_found_page(request, session)
    return csv_response(subscribers_csv(context(request).store, site.id), "subscribers.csv")


@operator_page
async def notifications_export(request: Request, session: DashboardSession) -> Response:
    site = await visible_site(request, session)
    if site is None:
        return not_found_page(request, session)
    return csv_response(notifications_csv(context(request).store, site.id), "notifications.csv")


routes: list[BaseRoute] = [
    Route("/sites/{site_id}/subscribers", subscribers_page, methods=["GET"]),
    Route(
        "/sites/{site_id}/subscribers/{subscription_id}/delete",
        delete_subscriber,
        methods=["POST"],
    ),
    Route("/sites/{site_id}/subscribers.csv", subscribers_export, methods=["GET"]),
    Route("/sites/{site_id}/notifications.csv", notifications_export, methods=["GET"]),
]
