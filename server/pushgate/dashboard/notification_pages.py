"""Notifications: the paged list (newest first) and one notification's page: its funnel,
deliveries over time, failures by push service and reason, its content, and **Cancel**,
**Send again** and **Duplicate**. Cancel and Send again go through api/notification_actions.py,
as the API does; a notification of another site, or of a site the operator cannot see, is 404."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pushgate.api.context import context
from pushgate.api.notification_actions import CANCELLABLE, cancel, send_again
from pushgate.api.notification_service import variant_counts
from pushgate.api.validation import MAX_CURSOR, whole_number
from pushgate.dashboard import notification_view as view
from pushgate.dashboard.guard import operator_page
from pushgate.dashboard.navigation import see_other
from pushgate.dashboard.pages import error_page, render
from pushgate.dashboard.site_access import not_found_page, visible_site
from pushgate.errors import ApiError
from pushgate.store.models import Notification, Site
from pushgate.store.operator_rows import DashboardSession

PAGE_SIZE = 25
LIVE_STATUSES = ("queued", "sending")  # the page refreshes itself while one of these
NOTICES = {
    "cancelled": "Cancelled: nothing more goes out.",
    "sent": "Sent again: this is the new notification.",
}


@operator_page
async def notification_list(request: Request, session: DashboardSession) -> Response:
    site = await visible_site(request, session)
    if site is None:
        return not_found_page(request, session)
    raw = request.query_params.get("before")
    before = None if raw is None else whole_number(raw, MAX_CURSOR)
    if raw is not None and before is None:
        return error_page(
            request, 400, "Bad page", "That page link is not valid.", session=session, site=site
        )
    items, next_key = await context(request).store.recent_notifications(
        site.id, limit=PAGE_SIZE, before=before
    )
    rows = [_row(n) for n in items]
    return render(
        request,
        "notifications.html",
        session=session,
        site=site,
        rows=rows,
        next_key=next_key,
        first_page=before is None,
    )


def _row(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "time": view.when(n.starts_at),
        "title": n.payload.get("title", ""),
        "status": n.status,
        "counts": n.counts,
        "ctr": view.click_through_rate(n.counts),
    }


@operator_page
async def notification_page(request: Request, session: DashboardSession) -> Response:
    found = await _notification(request, session)
    if isinstance(found, Response):
        return found
    site, notification = found
    notice = NOTICES.get(request.query_params.get("done", ""))
    return await _detail(request, session, site, notification, notice=notice)


@operator_page
async def cancel_notification(request: Request, session: DashboardSession) -> Response:
    site = await visible_site(request, session)
    if site is None:
        return not_found_page(request, session)
    notification_id = str(request.path_params["notification_id"])
    notification = await cancel(context(request), site.id, notification_id)
    if notification is None:
        return not_found_page(request, session)
    if notification.status != "cancelled":
        error = f"The notification is {notification.status}: nothing is left to cancel."
        return await _detail(request, session, site, notification, error=error, status=409)
    return see_other(_path(site, notification) + "?done=cancelled")


@operator_page
async def send_notification_again(request: Request, session: DashboardSession) -> Response:
    found = await _notification(request, session)
    if isinstance(found, Response):
        return found
    site, original = found
    try:
        new = await send_again(context(request), site.id, original)
    except ApiError as exc:  # its audience names a segment that has gone, say
        return await _detail(request, session, site, original, error=exc.message, status=400)
    return see_other(_path(site, new) + "?done=sent")


async def _notification(
    request: Request, session: DashboardSession
) -> tuple[Site, Notification] | Response:
    """The site and notification of the path, or the 404 page (the same for both)."""
    site = await visible_site(request, session)
    if site is None:
        return not_found_page(request, session)
    notification_id = str(request.path_params["notification_id"])
    notification = await context(request).store.get_notification(site.id, notification_id)
    if notification is None:
        return not_found_page(request, session)
    return site, notification


async def _detail(
    request: Request,
    session: DashboardSession,
    site: Site,
    notification: Notification,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    store = context(request).store
    steps = view.funnel(notification.counts)
    failures = view.failure_groups(await store.delivery_failures(notification.key))
    timeline = await store.delivery_timeline(notification.key)
    return render(
        request,
        "notification.html",
        status,
        session=session,
        site=site,
        n=notification,
        path=_path(site, notification),
        notice=notice,
        error=error,
        steps=steps,
        ctr=view.click_through_rate(notification.counts),
        funnel_chart=view.funnel_chart(steps),
        timeline_chart=view.timeline_chart(timeline),
        failures=failures,
        failures_chart=view.failures_chart(failures) if failures else None,
        facts=view.content_facts(notification),
        created=view.when(notification.created_at),
        schedule=view.schedule_text(notification),
        ab=view.ab_summary(notification, await variant_counts(store, notification)),
        cancellable=notification.status in CANCELLABLE,
        live=notification.status in LIVE_STATUSES,
    )


def _path(site: Site, notification: Notification) -> str:
    return f"/dashboard/sites/{site.id}/notifications/{notification.id}"


_BASE = "/sites/{site_id}/notifications"
routes: list[BaseRoute] = [
    Route(_BASE, notification_list, methods=["GET"]),
    Route(_BASE + "/{notification_id}", notification_page, methods=["GET"]),
    Route(_BASE + "/{notification_id}/cancel", cancel_notification, methods=["POST"]),
    Route(_BASE + "/{notification_id}/send-again", send_notification_again, methods=["POST"]),
]
