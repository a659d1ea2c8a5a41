"""`/api/v1/keys`: the API keys of the key's own site (issue #13). Several per site, each named,
so that a leaked key is rotated without downtime: create the new one, deploy it, revoke the old.
A key is shown once, when it is made; a listing shows ids, names and times, never a key."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pushgate.api.admin import authenticated_site
from pushgate.api.context import context
from pushgate.api.http import contain_unexpected, json_response, read_json
from pushgate.errors import ApiError
from pushgate.site_profile import MAX_KEY_NAME_LENGTH, key_json, name_of
from pushgate.site_rules import InvalidRule
from pushgate.store.base import LastApiKey

MAX_KEY_BODY_BYTES = 1024  # {"name": ...}


async def list_keys(request: Request) -> Response:
    site = await authenticated_site(request)
    keys = await context(request).store.list_api_keys(site.id)
    return json_response({"data": [key_json(key) for key in keys]})


async def create_key(request: Request) -> Response:
    site = await authenticated_site(request)
    ctx = context(request)
    body = await read_json(request, MAX_KEY_BODY_BYTES)
    try:
        if not isinstance(body, dict) or set(body) - {"name"}:
            raise InvalidRule("body", 'must be a JSON object {"name"}')
        name = name_of(body.get("name"), "name", MAX_KEY_NAME_LENGTH)
    except InvalidRule as exc:
        raise ApiError("invalid_request", str(exc)) from exc
    key, api_key = await ctx.store.create_api_key(site.id, name, ctx.clock())
    return json_response({"id": key.id, "name": key.name, "api_key": api_key}, 201)


async def revoke_key(request: Request) -> Response:
    site = await authenticated_site(request)
    try:
        revoked = await context(request).store.revoke_api_key(
            site.id, request.path_params["key_id"]
        )
    except LastApiKey as exc:
        raise ApiError(
            "last_api_key", "this is the site's last API key: create another, then revoke this one"
        ) from exc
    if not revoked:
        raise ApiError("not_found", "no such API key for this site")
    return Response(status_code=204)


routes = contain_unexpected(
    [
        Route("/api/v1/keys", list_keys, methods=["GET"]),
        Route("/api/v1/keys", create_key, methods=["POST"]),
        Route("/api/v1/keys/{key_id}", revoke_key, methods=["DELETE"]),
    ]
)
