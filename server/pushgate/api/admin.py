"""Admin API for a site's back end: `Authorization: Bearer <site API key>` on every call."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pushgate.analytics.subscribers import remove_subscriber
from pushgate.api.context import context, log
from pushgate.api.http import contain_unexpected, json_response, read_json
from pushgate.api.notification_request import parse_notification
from pushgate.api.notification_service import accepted_json, create_parsed, variant_counts
from pushgate.api.render import notification_json, subscription_json
from pushgate.api.validation import (
    MAX_CURSOR,
    subscription_changes,
    user_tag_changes,
    whole_number,
)
from pushgate.errors import ApiError
from pushgate.store import IdempotencyConflict, StoreUnavailable
from pushgate.store.models import ApiKey, Site
from pushgate.subscribers import TooManyTags, merge_user_tags, update_subscription

MAX_NOTIFICATION_BODY_BYTES = 64 * 1024
MAX_PATCH_BODY_BYTES = 64 * 1024  # 200 tag changes of 64-character names and 256-character values
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
IDEMPOTENCY_KEY = re.compile(r"\A[\x21-\x7e]{1,255}\Z")
LAST_USED_RESOLUTION_SECONDS = 60.0  # a key's last_used_at is written at most this often


class Unauthorized(ApiError):
    headers = {"WWW-Authenticate": 'Bearer realm="pushgate"'}

    def __init__(self, message: str) -> None:
        super().__init__("unauthorized", message)


def presented_api_key(request: Request) -> str | None:
    """The key of an `Authorization: Bearer <key>` header, if the request has one."""
    scheme, _, api_key = request.headers.get("authorization", "").partition(" ")
    return api_key.strip() if scheme.lower() == "bearer" and api_key.strip() else None


async def authenticated_site(request: Request) -> Site:
    return (await authenticated_key(request))[0]


async def authenticated_key(request: Request) -> tuple[Site, ApiKey]:
    """The site and the key of the request's API key; 401 without one, or for a revoked one
    (keys are looked up on every request, so a revocation holds at once)."""
    api_key = presented_api_key(request)
    if api_key is None:
        raise Unauthorized("send the site's API key as Authorization: Bearer <key>")
    ctx = context(request)
    # The key is looked up by its SHA-256, so no secret-dependent string comparison happens.
    found = await ctx.store.authenticate_api_key(api_key)
    if found is None:
        raise Unauthorized("the API key is not valid")
    site, key = found
    now = ctx.clock()
    # At most one write per key a minute, so that a busy key does not write on every request;
    # the stored time read with the key decides, so every gateway of a cluster agrees.
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION_SECONDS:
        try:
            await ctx.store.touch_api_key(key.id, now, now - LAST_USED_RESOLUTION_SECONDS)
        except StoreUnavailable as exc:  # bookkeeping: the request itself may still succeed
            log.warning("could not record the use of API key %s: %s", key.id, exc)
    return site, key


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        raise ApiError("invalid_request", "Idempotency-Key must be 1-255 visible ASCII characters")
    return key


async def create_notification(request: Request) -> Response:
    site = await authenticated_site(request)
    ctx = context(request)
    body = await read_json(request, MAX_NOTIFICATION_BODY_BYTES)
    now = ctx.clock()
    parsed = parse_notification(body, _idempotency_key(request), ctx.events_url, now)
    try:
        notification, _ = await create_parsed(ctx, site.id, parsed, now)
    except IdempotencyConflict as exc:
        raise ApiError(
            "idempotency_conflict", "this Idempotency-Key was used with a different request body"
        ) from exc
    return json_response(await accepted_json(ctx, site.id, notification, parsed), 202)


async def get_notification(request: Request) -> Response:
    site = await authenticated_site(request)
    notification = await context(request).store.get_notification(
        site.id, request.path_params["notification_id"]
    )
    if notification is None:
        raise ApiError("not_found", "no such notification for this site")
    counts = await variant_counts(context(request).store, notification)
    return json_response(notification_json(notification, counts))


def page_of(request: Request) -> tuple[int, int]:
    """`limit` and `cursor` of a listing, checked."""
    limit = whole_number(request.query_params.get("limit", str(DEFAULT_PAGE_SIZE)), MAX_PAGE_SIZE)
    after = whole_number(request.query_params.get("cursor") or "0", MAX_CURSOR)
    if limit is None or limit < 1:
        raise ApiError("invalid_request", f"limit must be 1-{MAX_PAGE_SIZE}")
    if after is None:
        raise ApiError("invalid_request", "cursor must be a next_cursor value from a previous page")
    return limit, after


async def list_subscriptions(request: Request) -> Response:
    site = await authenticated_site(request)
    limit, after = page_of(request)
    items, next_key = await context(request).store.list_subscriptions(
        site.id, limit=limit, after=after
    )
    return json_response(
        {
            "data": [subscription_json(s) for s in items],
            "next_cursor": None if next_key is None else str(next_key),
        }
    )


async def delete_subscription(request: Request) -> Response:
    site = await authenticated_site(request)
    ctx, subscription_id = context(request), request.path_params["subscription_id"]
    if not await remove_subscriber(ctx, site.id, subscription_id):  # as the dashboard does
        raise ApiError("not_found", "no such subscription for this site")
    return Response(status_code=204)


async def patch_subscription(request: Request) -> Response:
    site = await authenticated_site(request)
    ctx = context(request)
    changes = subscription_changes(await read_json(request, MAX_PATCH_BODY_BYTES))
    try:
        subscription = await update_subscription(
            ctx.store, site.id, request.path_params["subscription_id"], changes
        )
    except TooManyTags as exc:
        raise ApiError("invalid_request", str(exc)) from exc
    if subscription is None:
        raise ApiError("not_found", "no such subscription for this site")
    return json_response(subscription_json(subscription))


async def patch_user(request: Request) -> Response:
    site = await authenticated_site(request)
    ctx = context(request)
    tags = user_tag_changes(await read_json(request, MAX_PATCH_BODY_BYTES))
    external_id = request.path_params["external_id"]
    try:
        updated = await merge_user_tags(ctx.store, site.id, external_id, tags)
    except TooManyTags as exc:
        raise ApiError("invalid_request", str(exc)) from exc
    if not updated:
        raise ApiError("not_found", "no subscription of this site has this external_id")
    return json_response({"external_id": external_id, "updated": updated})


routes = [
    Route("/api/v1/notifications", create_notification, methods=["POST"]),
    Route("/api/v1/notifications/{notification_id}", get_notification, methods=["GET"]),
    Route("/api/v1/subscriptions", list_subscriptions, methods=["GET"]),
    Route("/api/v1/subscriptions/{subscription_id}", delete_subscription, methods=["DELETE"]),
    Route("/api/v1/subscriptions/{subscription_id}", patch_subscription, methods=["PATCH"]),
    # :path, so that an external id holding "/" (sent as %2F) can be named.
    Route("/api/v1/users/{external_id:path}", patch_user, methods=["PATCH"]),
]
routes = contain_unexpected(routes)
