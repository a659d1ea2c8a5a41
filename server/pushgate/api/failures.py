"""`GET /api/v1/notifications/{id}/failures`: why deliveries failed, grouped, and explained."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pushgate.api.admin import authenticated_site
from pushgate.api.context import context
from pushgate.api.http import contain_unexpected, json_response
from pushgate.errors import ApiError
from pushgate.store.counts import FailureCount
from pushgate.webpush.quirks import TTL_RAN_OUT, explain, parse_reason

RAN_OUT_NOTE = " It was retried until the notification's TTL ran out."


async def notification_failures(request: Request) -> Response:
    site = await authenticated_site(request)
    store = context(request).store
    notification = await store.get_notification(site.id, request.path_params["notification_id"])
    if notification is None:
        raise ApiError("not_found", "no such notification for this site")
    rows = await store.delivery_failures(notification.key)
    return json_response({"data": grouped(rows)})


def grouped(rows: Iterable[FailureCount]) -> list[dict[str, Any]]:
    """One entry per push service, status and reason, most frequent first."""
    groups: dict[tuple[str, int | None, str], dict[str, Any]] = {}
    for row in rows:
        named, detail, ran_out = parse_reason(row.reason or "")
        # The reason names the push service; a subscription's own record is the fallback
        # for reasons that do not (no answer at all, an endpoint refused before sending).
        service = named or row.push_service or "other"
        reason = f"{TTL_RAN_OUT}{detail}" if ran_out else detail
        key = (service, row.status, reason)
        if key in groups:
            groups[key]["count"] += row.count
            continue
        explanation = explain(row.status or 0, detail) + (RAN_OUT_NOTE if ran_out else "")
        groups[key] = {
            "push_service": service,
            "status": row.status,
            "reason": reason,
            "count": row.count,
            "explanation": explanation,
        }
    return sorted(groups.values(), key=lambda g: (-g["count"], g["push_service"], g["reason"]))


routes = contain_unexpected(
    [
        Route(
            "/api/v1/notifications/{notification_id}/failures",
            notification_failures,
            methods=["GET"],
        )
    ]
)
