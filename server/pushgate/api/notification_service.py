"""Creating a notification from a definition whose templates read variables: what webhooks,
feeds and (later) triggers share. Whatever does not render is `422 template_error`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pushgate.api.audience_checks import checked_audience
from pushgate.api.context import AppContext, announce
from pushgate.api.notification_request import notification_request
from pushgate.errors import ApiError
from pushgate.store.models import Notification


async def create_rendered(
    ctx: AppContext,
    site_id: str,
    definition: dict[str, Any],
    variables: dict[str, Any],
    *,
    idempotency_key: str | None,
    request_hash: str,
    since: float | None,
    now: float,
) -> tuple[Notification, bool]:
    """The notification `definition` renders to, created once per `idempotency_key` (one
    older than `since` gives its key up); `request_hash` names the source, so that a
    retry whose data changed answers the first notification rather than a conflict."""
    try:
        new = notification_request(definition, idempotency_key, ctx.events_url, now, variables)
    except ApiError as exc:
        if exc.error.code == "template_error":
            raise
        raise ApiError("template_error", f"the data does not render: {exc.message}") from None
    new = replace(new, request_hash=request_hash, idempotency_since=since)
    await checked_audience(ctx.store, site_id, new.audience)
    notification, created = await ctx.store.create_notification(site_id, new, now=now)
    if created:
        await announce(ctx, "new")
    return notification, created
