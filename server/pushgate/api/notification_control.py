"""Scheduled notifications from the back end: list them by status, and cancel one (issue #9)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pushgate.api.admin import authenticated_site, page_of
from pushgate.api.context import context
from pushgate.api.http import contain_unexpected, json_response
from pushgate.api.notification_actions import cancel
from pushgate.api.render import notification_json
from pushgate.errors import ApiError

STATUSES = ("scheduled", "queued", "sending", "done", "failed", "cancelled")


async def list_notifications(request: Request) -> Response:
    site = await authenticated_site(request)
    limit, after = page_of(request)
    status = request.query_params.get("status") or None
    if status is not None and status not in STATUSES:
        raise ApiError("invalid_request", f"status must be one of {', '.join(STATUSES)}")
    items, next_key = await context(request).store.list_notifications(
        site.id, status=status, limit=limit, after=after
    )
    return json_response(
        {
            "data": [notification_json(n) for n in items],
            "next_cursor": None if next_key is None else str(next_key),
        }
    )


async def cancel_notification(request: Request) -> Response:
    """Nothing not yet handed to a push service goes out; one not yet started targets nobody."""
    site = await authenticated_site(request)
    notification = await cancel(context(request), site.id, request.path_params["notification_id"])
    if notification is None:
        raise ApiError("not_found", "no such notification for this site")
    if notification.status != "cancelled":
        raise ApiError(
            "not_cancellable",
            f"the notification is {notification.status}: nothing is left to cancel",
        )
    return json_response(notification_json(notification))


routes = contain_unexpected(
    [
        Route("/api/v1/notifications", list_notifications, methods=["GET"]),
        Route(
            "/api/v1/notifications/{notification_id}/cancel", cancel_notification, methods=["POST"]
        ),
    ]
)
