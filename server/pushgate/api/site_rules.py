"""`GET` and `PATCH /api/v1/site`: the key's own site and its delivery rules (issue #9 item 5)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pushgate.api.admin import authenticated_site
from pushgate.api.context import context
from pushgate.api.http import contain_unexpected, json_response, read_json
from pushgate.errors import ApiError
from pushgate.site_rules import InvalidRule, rules_json, site_rules_of

MAX_SITE_PATCH_BODY_BYTES = 4 * 1024  # three small members


async def get_site(request: Request) -> Response:
    return json_response(rules_json(await authenticated_site(request)))


async def patch_site(request: Request) -> Response:
    site = await authenticated_site(request)
    try:
        rules = site_rules_of(await read_json(request, MAX_SITE_PATCH_BODY_BYTES))
    except InvalidRule as exc:
        raise ApiError("invalid_request", str(exc)) from exc
    updated = await context(request).store.update_site_rules(site.id, rules)
    if updated is None:  # deleted between the key's lookup and the write
        raise ApiError("not_found", "no such site")
    return json_response(rules_json(updated))


routes = contain_unexpected(
    [
        Route("/api/v1/site", get_site, methods=["GET"]),
        Route("/api/v1/site", patch_site, methods=["PATCH"]),
    ]
)
