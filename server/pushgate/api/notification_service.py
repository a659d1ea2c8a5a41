"""Creating a notification from a definition whose templates read variables: what webhooks,
feeds and (later) triggers share (whatever does not render is `422 template_error`); and what
the `202` of `POST /api/v1/notifications` says beside the id: whom it is likely to reach, and
what may go wrong on the way."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pushgate.api.audience_checks import checked_audience
from pushgate.api.context import AppContext, announce
from pushgate.api.notification_request import ParsedNotification, notification_request
from pushgate.errors import ApiError
from pushgate.store.base import Store
from pushgate.store.models import Audience, Counts, Notification

# Firefox for Android refuses an encrypted body over 3,070 bytes: 2,967 bytes of plaintext after
# the 86-byte header, the 16-byte tag and the padding delimiter (RFC 8291 §4, aes128gcm); warn
# from 2,900, with room for what varies per message (the event token).
PAYLOAD_WARNING_BYTES = 2900
# An audience other than a list of ids is counted only on a site of at most this many
# subscriptions: a count walks what the audience's leading index yields, up to the whole site
# (a 3-leaf filter took 783 ms at 1,000,000, README "Audiences"; everyone, ~250 ms on a busy
# 2-core machine), and the answer waits for it.
ESTIMATE_MAX_SUBSCRIPTIONS = 100_000


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


async def create_parsed(
    ctx: AppContext, site_id: str, parsed: ParsedNotification, now: float
) -> tuple[Notification, bool]:
    """Store a parsed notification once its audience is checked against the site's segments,
    and wake the delivery engine: what `POST /api/v1/notifications` and the dashboard's
    composer share. IdempotencyConflict when its key was used with another body."""
    await checked_audience(ctx.store, site_id, parsed.new.audience)
    notification, created = await ctx.store.create_notification(site_id, parsed.new, now=now)
    if created:
        await announce(ctx, "new")
    return notification, created


async def accepted_json(
    ctx: AppContext, site_id: str, notification: Notification, parsed: ParsedNotification
) -> dict[str, Any]:
    """The `202` answer: id and status, `targeted_estimate` where it is cheap to count, and
    `warnings` only when there is one."""
    answer: dict[str, Any] = {"id": notification.id, "status": notification.status}
    estimate = await targeted_estimate(ctx.store, site_id, parsed.new.audience, ctx.clock())
    if estimate is not None:
        answer["targeted_estimate"] = estimate
    warnings = payload_warnings(parsed.payload_bytes)
    if warnings:
        answer["warnings"] = warnings
    return answer


async def targeted_estimate(
    store: Store,
    site_id: str,
    audience: Audience,
    now: float,
    max_subscriptions: int = ESTIMATE_MAX_SUBSCRIPTIONS,
) -> int | None:
    """How many subscriptions the audience holds now (POST /api/v1/audiences/count's figure);
    None on a site past `max_subscriptions`, where a count could cost more than the answer is
    worth. Lists of ids are read by their own indexes whatever the site's size; the site's size
    is counted no further than the limit."""
    if audience.external_ids is not None or audience.subscription_ids is not None:
        return await store.count_audience(site_id, audience, now)
    everyone = await store.count_subscriptions(site_id, up_to=max_subscriptions + 1)
    if everyone > max_subscriptions:
        return None
    if audience.as_tree is None or everyone == 0:
        return everyone
    return await store.count_audience(site_id, audience, now)


def payload_warnings(payload_bytes: int) -> list[dict[str, str]]:
    if payload_bytes <= PAYLOAD_WARNING_BYTES:
        return []
    message = (
        f"the push payload is {payload_bytes} bytes of plaintext, over {PAYLOAD_WARNING_BYTES}: "
        "Firefox for Android refuses an encrypted body over 3,070 bytes (2,967 of plaintext), "
        "so it may not reach Firefox on Android; shorten body, data or URLs"
    )
    return [{"code": "payload_large", "message": message}]


async def variant_counts(store: Store, notification: Notification) -> list[Counts] | None:
    """An A/B test's counts per variant (GET of a notification, the dashboard), from its
    deliveries and their events; None without a test."""
    if not notification.ab_test:
        return None
    return await store.variant_counts(notification.key, int(notification.ab_test["variants"]))
