"""Saved segments (`/api/v1/segments`) and audience counts (`POST /api/v1/audiences/count`).

A segment's filter is checked as a notification's is, and resolved against the site's other
segments before it is stored: a missing segment, a cycle or a tree past the limits is a 400."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pushgate.api.admin import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, authenticated_site
from pushgate.api.audience_checks import checked_audience, checked_tree
from pushgate.api.context import context
from pushgate.api.http import contain_unexpected, json_response, read_json
from pushgate.api.render import iso
from pushgate.api.validation import audience_of, invalid, optional_str, require_object, whole_number
from pushgate.audience.parse import SEGMENT_NAME, FilterError, parse_filter, segment_name
from pushgate.audience.tree import Node, to_json
from pushgate.errors import ApiError
from pushgate.store import Store
from pushgate.store.base import SegmentExists, SegmentInUse
from pushgate.store.models import Audience, Segment

# A filter may list 10,000 values of up to 256 characters; a notification body stays at 64 KiB.
MAX_SEGMENT_BODY_BYTES = 4 * 1024 * 1024
MAX_DESCRIPTION_LENGTH = 1000


def _now(request: Request) -> float:
    return context(request).clock()  # the app's wall clock: tests drive `within`, timestamps


def segment_json(segment: Segment, count: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": segment.name,
        "filter": to_json(segment.filter),
        "description": segment.description,
        "created_at": iso(segment.created_at),
        "updated_at": iso(segment.updated_at),
    }
    if count is not None:
        data["count"] = count
    return data


def _segment_body(body: Any, names: tuple[str, ...]) -> dict[str, Any]:
    data = require_object(body, "body")
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise invalid(f"unknown member {unknown[0]!r}; this takes {', '.join(names)}")
    return data


def _filter_of(data: dict[str, Any]) -> Node:
    if "filter" not in data:
        raise invalid("filter is required: a filter tree")
    try:
        return parse_filter(data["filter"], "filter")
    except FilterError as exc:
        raise invalid(str(exc)) from exc


def _name_of(value: Any, path: str) -> str:
    try:
        return segment_name(value, path)
    except FilterError as exc:
        raise invalid(str(exc)) from exc


async def create_segment(request: Request) -> Response:
    site = await authenticated_site(request)
    store = context(request).store
    data = _segment_body(
        await read_json(request, MAX_SEGMENT_BODY_BYTES), ("name", "filter", "description")
    )
    name = _name_of(data.get("name"), "name")
    tree = _filter_of(data)
    description = optional_str(data, "description", MAX_DESCRIPTION_LENGTH, multiline=True)
    await checked_tree(store, site.id, tree, "filter", frozenset({name}))
    now = _now(request)
    try:
        segment = await store.create_segment(site.id, Segment(name, tree, description, now, now))
    except SegmentExists as exc:
        raise ApiError("segment_exists", f"the site has a segment named {name!r}") from exc
    return json_response(segment_json(segment), 201)


async def list_segments(request: Request) -> Response:
    site = await authenticated_site(request)
    limit = whole_number(request.query_params.get("limit", str(DEFAULT_PAGE_SIZE)), MAX_PAGE_SIZE)
    if limit is None or limit < 1:
        raise invalid(f"limit must be 1-{MAX_PAGE_SIZE}")
    after = request.query_params.get("cursor") or ""
    if after and not SEGMENT_NAME.match(after):
        raise invalid("cursor must be a next_cursor value from a previous page")
    found, next_cursor = await context(request).store.list_segments(
        site.id, limit=limit, after=after
    )
    return json_response({"data": [segment_json(s) for s in found], "next_cursor": next_cursor})


def _path_name(request: Request) -> str:
    name = request.path_params["name"]
    if not SEGMENT_NAME.match(name):
        raise ApiError("not_found", "no such segment for this site")
    return str(name)


async def get_segment(request: Request) -> Response:
    site = await authenticated_site(request)
    store = context(request).store
    segment = await store.get_segment(site.id, _path_name(request))
    if segment is None:
        raise ApiError("not_found", "no such segment for this site")
    count = await store.count_audience(site.id, Audience(segment=segment.name), _now(request))
    return json_response(segment_json(segment, count))


async def replace_segment(request: Request) -> Response:
    site = await authenticated_site(request)
    store = context(request).store
    name = _path_name(request)
    data = _segment_body(
        await read_json(request, MAX_SEGMENT_BODY_BYTES), ("name", "filter", "description")
    )
    if "name" in data and data["name"] != name:
        raise invalid("name: a segment keeps its name; create another to rename it")
    tree = _filter_of(data)
    description = optional_str(data, "description", MAX_DESCRIPTION_LENGTH, multiline=True)
    if await store.get_segment(site.id, name) is None:
        raise ApiError("not_found", "no such segment for this site")
    await checked_tree(store, site.id, tree, "filter", frozenset({name}))
    now = _now(request)
    segment = await store.replace_segment(site.id, Segment(name, tree, description, now, now))
    if segment is None:
        raise ApiError("not_found", "no such segment for this site")
    return json_response(segment_json(segment))


async def delete_segment(request: Request) -> Response:
    site = await authenticated_site(request)
    try:
        removed = await context(request).store.delete_segment(site.id, _path_name(request))
    except SegmentInUse as exc:
        raise ApiError("segment_in_use", str(exc)) from exc
    if not removed:
        raise ApiError("not_found", "no such segment for this site")
    return Response(status_code=204)


async def count_audience(request: Request) -> Response:
    site = await authenticated_site(request)
    store = context(request).store
    data = _segment_body(await read_json(request, MAX_SEGMENT_BODY_BYTES), ("audience",))
    if "audience" not in data:
        raise invalid("audience is required: any audience a notification takes")
    _, count = await counted_audience(store, site.id, data["audience"], _now(request))
    return json_response({"count": count})


async def counted_audience(
    store: Store, site_id: str, value: Any, now: float
) -> tuple[Audience, int]:
    """The audience of an `audience` member, checked against the site's segments, and how many
    subscriptions it holds now: this route's answer, and the dashboard composer's count."""
    audience = audience_of(value)
    await checked_audience(store, site_id, audience)
    return audience, await store.count_audience(site_id, audience, now)


routes = [
    Route("/api/v1/segments", create_segment, methods=["POST"]),
    Route("/api/v1/segments", list_segments, methods=["GET"]),
    Route("/api/v1/segments/{name}", get_segment, methods=["GET"]),
    Route("/api/v1/segments/{name}", replace_segment, methods=["PUT"]),
    Route("/api/v1/segments/{name}", delete_segment, methods=["DELETE"]),
    Route("/api/v1/audiences/count", count_audience, methods=["POST"]),
]
routes = contain_unexpected(routes)
