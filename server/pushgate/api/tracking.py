"""Tracked events (issue #11), what triggers act on: `POST /api/v1/events` from the site's
back end, `POST /v1/sites/{site_id}/track` from its pages (`pushgate.track(name, props)`,
tied to that browser's subscription by its endpoint)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pushgate.api.admin import authenticated_site
from pushgate.api.context import context
from pushgate.api.http import contain_unexpected, error_response, json_response, read_json
from pushgate.api.public import _site_and_origin, preflight
from pushgate.api.render import iso
from pushgate.api.schedule_options import parse_rfc3339
from pushgate.api.validation import (
    MAX_ID_LENGTH,
    checked_str,
    endpoint_of,
    invalid,
    require_object,
    tags_of,
)
from pushgate.errors import ApiError
from pushgate.store.automation_models import NewTrackedEvent, TrackedEvent

MAX_EVENT_BYTES = 8 * 1024
MAX_PROPS = 50
EVENT_NAME = re.compile(r"\A[a-zA-Z0-9_.-]{1,64}\Z")
ADMIN_FIELDS = ("name", "external_id", "subscription_id", "props", "occurred_at", "id")
PAGE_FIELDS = ("endpoint", "name", "props")


def tracked_event_json(event: TrackedEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "name": event.name,
        "external_id": event.external_id,
        "subscription_id": event.subscription_id,
        "props": event.props,
        "occurred_at": iso(event.occurred_at),
        "received_at": iso(event.received_at),
    }


def _name(data: dict[str, Any]) -> str:
    name = data.get("name")
    if not isinstance(name, str) or not EVENT_NAME.match(name):
        raise invalid("name must be 1-64 of a-z A-Z 0-9 _ . -")
    return name


def _props(data: dict[str, Any]) -> dict[str, Any]:
    """A flat object of at most MAX_PROPS typed values (named and checked as tags are)."""
    props = data.get("props")
    if props is None:
        return {}
    if isinstance(props, dict) and len(props) > MAX_PROPS:
        raise invalid(f"props holds {len(props)} values; at most {MAX_PROPS}")
    try:
        return tags_of(props, "props")
    except ApiError as error:  # tags_of's words are about tags: say which field it was
        raise invalid("props: " + error.message.replace("tag ", "prop ")) from None


def _only(data: dict[str, Any], fields: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise invalid(f"unknown member {unknown[0]!r}; an event takes {', '.join(fields)}")


def admin_event(body: Any, now: float) -> NewTrackedEvent:
    data = require_object(body, "body")
    _only(data, ADMIN_FIELDS)
    given = [key for key in ("external_id", "subscription_id") if data.get(key) is not None]
    if len(given) != 1:
        raise invalid("give exactly one of external_id (a user) and subscription_id (a browser)")
    occurred = data.get("occurred_at")
    occurred_at = now if occurred is None else parse_rfc3339(occurred)
    if occurred_at is None:
        raise invalid("occurred_at must be an RFC 3339 time with an offset: 2026-12-01T09:00:00Z")
    event_id = data.get("id")
    return NewTrackedEvent(
        id=uuid.uuid4().hex if event_id is None else checked_str(event_id, "id", MAX_ID_LENGTH),
        name=_name(data),
        props=_props(data),
        occurred_at=occurred_at,
        external_id=_optional_id(data, "external_id"),
        subscription_id=_optional_id(data, "subscription_id"),
    )


def _optional_id(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    return None if value is None else checked_str(value, name, MAX_ID_LENGTH)


async def record_admin_event(request: Request) -> Response:
    """`202` with the event; the same `id` again: `200` with the first, nothing more."""
    site = await authenticated_site(request)
    ctx = context(request)
    now = ctx.clock()
    new = admin_event(await read_json(request, MAX_EVENT_BYTES), now)
    recorded = await ctx.store.record_tracked_event(site.id, new, now)
    if recorded is None:
        raise ApiError("not_found", "no such subscription for this site")
    event, created = recorded
    return json_response(tracked_event_json(event), 202 if created else 200)


async def track(request: Request) -> Response:
    """The snippet's `pushgate.track`: `202`; `404` when the endpoint is not subscribed."""
    site, headers = await _site_and_origin(request, require_origin=True)
    ctx = context(request)
    now = ctx.clock()
    try:
        data = require_object(await read_json(request, MAX_EVENT_BYTES), "body")
        _only(data, PAGE_FIELDS)
        new = NewTrackedEvent(
            id=uuid.uuid4().hex,
            name=_name(data),
            props=_props(data),
            occurred_at=now,
            endpoint=endpoint_of(data),
        )
        recorded = await ctx.store.record_tracked_event(site.id, new, now)
        if recorded is None:
            raise ApiError("not_found", "this browser has no subscription on this site")
    except ApiError as error:
        return error_response(error, headers)
    return json_response({"id": recorded[0].id}, 202, headers)


routes = contain_unexpected(
    [
        Route("/api/v1/events", record_admin_event, methods=["POST"]),
        Route("/v1/sites/{site_id}/track", track, methods=["POST"]),
        Route("/v1/sites/{site_id}/track", preflight, methods=["OPTIONS"]),
    ]
)
