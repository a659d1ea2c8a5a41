"""RSS and Atom feeds (issue #11): `/api/v1/feeds` to manage them; the poller
(automation/feed_poller.py) sends each new entry once. `{"url", "notification"?: {fields as
templates over `item`, "audience"?}, "interval": "5m"}`; without `notification` an entry's
title, summary (plain text, 120 characters) and link make the notification."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pushgate.api.admin import authenticated_site
from pushgate.api.context import AppContext, context
from pushgate.api.definitions import checked_definition
from pushgate.api.http import contain_unexpected, json_response, read_json
from pushgate.api.render import iso
from pushgate.api.validation import http_url, invalid, require_object
from pushgate.automation.feed_fetch import FeedFetchError, check_feed_url
from pushgate.durations import InvalidDuration, describe, duration_seconds
from pushgate.errors import ApiError
from pushgate.store.automation_models import Feed

MAX_DEFINITION_BYTES = 64 * 1024
MIN_INTERVAL_SECONDS, MAX_INTERVAL_SECONDS = 10, 24 * 3600
FIELDS = ("url", "notification", "interval")


def feed_json(feed: Feed) -> dict[str, Any]:
    last_poll = None
    if feed.last_polled_at is not None:
        last_poll = {
            "at": iso(feed.last_polled_at),
            "status": feed.last_status,
            "error": feed.last_error,
        }
    return {
        "id": feed.id,
        "url": feed.url,
        "notification": feed.notification,
        "interval": describe(feed.interval_seconds),
        "last_poll": last_poll,
        "next_poll_at": iso(feed.next_poll_at),
        "failures": feed.failures,
        "sent": feed.sent,
        "created_at": iso(feed.created_at),
        "updated_at": iso(feed.updated_at),
    }


async def _checked(request: Request, ctx: AppContext) -> dict[str, Any]:
    data = require_object(await read_json(request, MAX_DEFINITION_BYTES), "body")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise invalid(f"unknown member {unknown[0]!r}; a feed takes {', '.join(FIELDS)}")
    url = http_url(data, "url")
    if url is None:
        raise invalid("url is required: the feed's absolute http or https URL")
    try:
        await check_feed_url(url, ctx.settings.allowed_feed_hosts)
    except FeedFetchError as exc:
        raise invalid(f"url: {exc}") from None
    try:
        interval = duration_seconds(
            data.get("interval"), "interval", MIN_INTERVAL_SECONDS, MAX_INTERVAL_SECONDS
        )
    except InvalidDuration as exc:
        raise invalid(str(exc)) from None
    notification = data.get("notification")
    if notification is not None:
        notification = checked_definition(notification, ctx.events_url)
    return {"url": url, "notification": notification, "interval": interval}


async def create_feed(request: Request) -> Response:
    site = await authenticated_site(request)
    ctx = context(request)
    checked = await _checked(request, ctx)
    now = ctx.clock()
    feed = Feed(
        id=uuid.uuid4().hex,
        site_id=site.id,
        url=checked["url"],
        notification=checked["notification"],
        interval_seconds=checked["interval"],
        next_poll_at=now,  # the first poll, which only records what is there, at once
        created_at=now,
        updated_at=now,
    )
    await ctx.store.create_feed(feed)
    return json_response(feed_json(feed), 201)


async def list_feeds(request: Request) -> Response:
    site = await authenticated_site(request)
    feeds = await context(request).store.list_feeds(site.id)
    return json_response({"data": [feed_json(f) for f in feeds]})


async def _own_feed(request: Request) -> tuple[Feed, AppContext]:
    site = await authenticated_site(request)
    ctx = context(request)
    feed = await ctx.store.get_feed(site.id, request.path_params["feed_id"])
    if feed is None:
        raise ApiError("not_found", "no such feed for this site")
    return feed, ctx


async def get_feed(request: Request) -> Response:
    feed, _ = await _own_feed(request)
    return json_response(feed_json(feed))


async def replace_feed(request: Request) -> Response:
    """A new URL starts afresh: its first poll records what is there and sends nothing."""
    feed, ctx = await _own_feed(request)
    checked = await _checked(request, ctx)
    now = ctx.clock()
    new_url = checked["url"] != feed.url
    changed = Feed(
        id=feed.id,
        site_id=feed.site_id,
        url=checked["url"],
        notification=checked["notification"],
        interval_seconds=checked["interval"],
        next_poll_at=now if new_url else min(feed.next_poll_at, now + checked["interval"]),
        created_at=feed.created_at,
        updated_at=now,
    )
    stored = await ctx.store.replace_feed(changed, new_url=new_url)
    if stored is None:
        raise ApiError("not_found", "no such feed for this site")
    return json_response(feed_json(stored))


async def delete_feed(request: Request) -> Response:
    feed, ctx = await _own_feed(request)
    if not await ctx.store.delete_feed(feed.site_id, feed.id):
        raise ApiError("not_found", "no such feed for this site")
    return Response(status_code=204)


routes = contain_unexpected(
    [
        Route("/api/v1/feeds", create_feed, methods=["POST"]),
        Route("/api/v1/feeds", list_feeds, methods=["GET"]),
        Route("/api/v1/feeds/{feed_id}", get_feed, methods=["GET"]),
        Route("/api/v1/feeds/{feed_id}", replace_feed, methods=["PUT"]),
        Route("/api/v1/feeds/{feed_id}", delete_feed, methods=["DELETE"]),
    ]
)
