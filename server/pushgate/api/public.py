"""Browser-facing routes: site config, subscribe, unsubscribe, events. CORS per site."""

from __future__ import annotations

from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pushgate.api.context import AppContext, context
from pushgate.api.http import contain_unexpected, error_response, json_response, read_json
from pushgate.api.render import subscription_json
from pushgate.api.text import has_control
from pushgate.api.validation import endpoint_of, require_object, subscription_request
from pushgate.audience.fields import browser_of
from pushgate.delivery.tokens import read_token
from pushgate.errors import ApiError
from pushgate.prompt_variants import served_variants
from pushgate.site_profile import prompt_json
from pushgate.store.base import SiteGone, SubscriptionLimitReached
from pushgate.store.models import Site

MAX_SUBSCRIBE_BODY_BYTES = 64 * 1024  # room for 100 tags of 256-character values
MAX_EVENT_BODY_BYTES = 2 * 1024
EVENT_TYPES = ("delivered", "clicked", "dismissed")


def cors_headers(origin: str, methods: str) -> dict[str, str]:
    # The exact origin, never "*": subscriptions and events are per site.
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": methods,
        "Access-Control-Allow-Headers": "content-type",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


async def _site(ctx: AppContext, site_id: str) -> Site | None:
    return await (ctx.sites.get(site_id) if ctx.sites else ctx.store.get_site(site_id))


async def _site_and_origin(
    request: Request, *, require_origin: bool
) -> tuple[Site, dict[str, str]]:
    site = await _site(context(request), request.path_params["site_id"])
    if site is None:
        raise ApiError("not_found", "no such site")
    origin = request.headers.get("origin")
    if origin is None and not require_origin:
        return site, {}
    if not site.allows_origin(origin):
        raise ApiError("origin_not_allowed", f"origin {origin!r} is not registered for this site")
    assert origin is not None
    return site, cors_headers(origin, "GET, POST, DELETE, OPTIONS")


async def site_cors(request: Request) -> dict[str, str]:
    """The CORS headers a site route answers this request with: none for a foreign origin."""
    try:
        return (await _site_and_origin(request, require_origin=False))[1]
    except ApiError:
        return {}


async def preflight(request: Request) -> Response:
    _, headers = await _site_and_origin(request, require_origin=True)
    return Response(status_code=204, headers=headers)


async def site_config(request: Request) -> Response:
    site, headers = await _site_and_origin(request, require_origin=False)
    ctx = context(request)
    base = ctx.settings.base_url
    return json_response(
        {
            "site_id": site.id,
            "vapid_public_key": site.vapid.public_key,
            "prompt": prompt_json(site),  # the site's words; null: the snippet's own
            "prompt_variants": served_variants(site, await ctx.store.prompt_variants(site.id)),
            "prompt_events_url": f"{base}/v1/sites/{site.id}/prompt-events",
            "subscriptions_url": f"{base}/v1/sites/{site.id}/subscriptions",
            "events_url": f"{base}/v1/events",
        },
        headers=headers | {"Cache-Control": "no-cache"},
    )


async def subscribe(request: Request) -> Response:
    site, headers = await _site_and_origin(request, require_origin=True)
    ctx = context(request)
    try:
        body = await read_json(request, MAX_SUBSCRIBE_BODY_BYTES)
        new = subscription_request(
            body, ctx.policy, browser_of(request.headers.get("user-agent", ""))
        )
    except ApiError as error:
        return error_response(error, headers)
    if ctx.countries is not None:  # the address is looked up, never stored
        new = replace(new, country=ctx.countries.country(request.scope))
    cap = ctx.settings.max_subscriptions_per_site
    try:
        subscription, created = await ctx.store.upsert_subscription(
            site.id, new, max_subscriptions=cap
        )
    except SubscriptionLimitReached:
        message = f"the site holds {cap} subscriptions, as many as it may"
        return error_response(ApiError("subscription_limit", message), headers)
    except SiteGone:  # deleted since it was read
        return error_response(ApiError("not_found", "no such site"), headers)
    if created and ctx.hooks is not None:
        await ctx.hooks.record(site.id, "subscribed", subscription.id)
    return json_response(subscription_json(subscription), 201 if created else 200, headers)


async def unsubscribe(request: Request) -> Response:
    site, headers = await _site_and_origin(request, require_origin=True)
    try:
        endpoint = endpoint_of(await read_json(request, MAX_SUBSCRIBE_BODY_BYTES))
    except ApiError as error:
        return error_response(error, headers)
    ctx = context(request)
    leaving = await ctx.hooks.subscription_leaving(site.id, endpoint) if ctx.hooks else None
    removed = await ctx.store.remove_subscription_by_endpoint(site.id, endpoint)
    if removed and leaving is not None and ctx.hooks is not None:
        await ctx.hooks.record(site.id, "unsubscribed", leaving)
    return Response(status_code=204, headers=headers)


async def events_preflight(request: Request) -> Response:
    origin = request.headers.get("origin")
    if origin is None or not await context(request).store.origin_is_registered(origin):
        raise ApiError("origin_not_allowed", f"origin {origin!r} is not registered for any site")
    return Response(status_code=204, headers=cors_headers(origin, "POST, OPTIONS"))


async def events_cors(request: Request) -> dict[str, str]:
    """The CORS headers of an events answer: for an origin some site registered."""
    origin = request.headers.get("origin")
    registered = origin is not None and await context(request).store.origin_is_registered(origin)
    return cors_headers(origin, "POST, OPTIONS") if origin and registered else {}


async def record_event(request: Request) -> Response:
    # Errors carry CORS headers too, so the worker can read the error code.
    headers = await events_cors(request)
    try:
        await _record_event(request, request.headers.get("origin"))
    except ApiError as error:
        return error_response(error, headers)
    return Response(status_code=204, headers=headers)


async def _record_event(request: Request, origin: str | None) -> None:
    ctx = context(request)
    data = require_object(await read_json(request, MAX_EVENT_BODY_BYTES), "body")
    kind = data.get("type")
    if kind not in EVENT_TYPES:
        raise ApiError("invalid_request", f"type must be one of {', '.join(EVENT_TYPES)}")
    action = data.get("action")
    if action is not None and (
        not isinstance(action, str) or len(action) > 64 or has_control(action)
    ):
        raise ApiError("invalid_request", "action must be text of at most 64 characters")
    keys = read_token(ctx.event_secret, data.get("token"))
    ref = await ctx.store.delivery_ref(*keys) if keys else None
    if ref is None:
        raise ApiError("invalid_token", "the event token is not one this gateway issued")
    site = await _site(ctx, ref.site_id)
    if origin is not None and (site is None or not site.allows_origin(origin)):
        raise ApiError("origin_not_allowed", f"origin {origin!r} is not this site's")
    if not await ctx.store.record_event(ref, kind, action, ctx.clock()):
        raise ApiError("duplicate_event", f"{kind} was already recorded")
    if ctx.hooks is not None:
        await ctx.hooks.delivery_event(
            ref.site_id, kind, ref.notification_key, ref.subscription_key, action
        )


routes = [
    Route("/v1/sites/{site_id}/config", site_config, methods=["GET"]),
    Route("/v1/sites/{site_id}/config", preflight, methods=["OPTIONS"]),
    Route("/v1/sites/{site_id}/subscriptions", subscribe, methods=["POST"]),
    Route("/v1/sites/{site_id}/subscriptions", unsubscribe, methods=["DELETE"]),
    Route("/v1/sites/{site_id}/subscriptions", preflight, methods=["OPTIONS"]),
    Route("/v1/events", record_event, methods=["POST"]),
    Route("/v1/events", events_preflight, methods=["OPTIONS"]),
]
routes = contain_unexpected(routes)
