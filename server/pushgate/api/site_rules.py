"""`GET` and `PATCH /api/v1/site`: the key's own site, its name, origins and soft-prompt words
(issue #13) and its delivery rules (issue #9 item 5)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pushgate.api.admin import authenticated_site
from pushgate.api.context import context
from pushgate.api.http import contain_unexpected, json_response, read_json
from pushgate.errors import ApiError
from pushgate.site_profile import PROFILE_NAMES, site_change_of, site_json
from pushgate.site_rules import RULE_NAMES, InvalidRule, site_rules_of
from pushgate.store.base import SiteNameTaken
from pushgate.store.models import SiteChange, SiteRules

MAX_SITE_PATCH_BODY_BYTES = 64 * 1024  # room for 100 origins
PATCH_NAMES = (*PROFILE_NAMES, *RULE_NAMES)


async def get_site(request: Request) -> Response:
    return json_response(site_json(await authenticated_site(request)))


def site_patch_of(body: Any) -> tuple[SiteChange, SiteRules, list[str]]:
    """The two changes a PATCH body asks for, every member checked before anything is
    written; an unknown member is refused, since it would otherwise change nothing."""
    if not isinstance(body, dict):
        raise InvalidRule("body", "must be a JSON object")
    unknown = sorted(set(body) - set(PATCH_NAMES))
    if unknown:
        raise InvalidRule(unknown[0], f"is not known; this takes {', '.join(PATCH_NAMES)}")
    change, warnings = site_change_of(body)
    rules = site_rules_of({name: body[name] for name in RULE_NAMES if name in body})
    return change, rules, warnings


async def patch_site(request: Request) -> Response:
    site = await authenticated_site(request)
    store = context(request).store
    try:
        change, rules, warnings = site_patch_of(await read_json(request, MAX_SITE_PATCH_BODY_BYTES))
    except InvalidRule as exc:
        raise ApiError("invalid_request", str(exc)) from exc
    try:
        updated = await store.update_site(site.id, change)
    except SiteNameTaken as exc:
        raise ApiError("site_exists", f"another site is named {change.name!r}") from exc
    if updated is not None and rules.given:
        updated = await store.update_site_rules(site.id, rules)
    if updated is None:  # deleted between the key's lookup and the write
        raise ApiError("not_found", "no such site")
    # Origins browsers will not allow push on are stored (a staging site may want them), and
    # said so: an http origin on a public host is almost always a typing slip.
    return json_response(site_json(updated) | ({"warnings": warnings} if warnings else {}))


routes = contain_unexpected(
    [
        Route("/api/v1/site", get_site, methods=["GET"]),
        Route("/api/v1/site", patch_site, methods=["PATCH"]),
    ]
)
