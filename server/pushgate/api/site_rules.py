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
from pushgate.prompt_variants import variant_json, variants_of
from pushgate.site_profile import PROFILE_NAMES, site_change_of, site_json
from pushgate.site_rules import RULE_NAMES, InvalidRule, site_rules_of
from pushgate.store.base import SiteNameTaken, Store
from pushgate.store.models import Site, SiteChange, SiteRules

MAX_SITE_PATCH_BODY_BYTES = 64 * 1024  # room for 100 origins
VARIANTS_NAME = "prompt_variants"  # read by patch_site, not site_patch_of (the dashboard's form)
PATCH_NAMES = (*PROFILE_NAMES, *RULE_NAMES, VARIANTS_NAME)


async def site_with_variants(store: Store, site: Site) -> dict[str, Any]:
    """The site as the API shows it, with its soft-prompt variants (issue #12 part 6)."""
    variants = [variant_json(v) for v in await store.prompt_variants(site.id)]
    return site_json(site) | {VARIANTS_NAME: variants}


async def get_site(request: Request) -> Response:
    site = await authenticated_site(request)
    return json_response(await site_with_variants(context(request).store, site))


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
        body = await read_json(request, MAX_SITE_PATCH_BODY_BYTES)
        change, rules, warnings = site_patch_of(body)
        variants = variants_of(body[VARIANTS_NAME]) if VARIANTS_NAME in body else None
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
    if variants is not None:
        await store.set_prompt_variants(site.id, variants)
    # Origins browsers will not allow push on are stored (a staging site may want them), and
    # said so: an http origin on a public host is almost always a typing slip.
    shown = await site_with_variants(store, updated)
    return json_response(shown | ({"warnings": warnings} if warnings else {}))


routes = contain_unexpected(
    [
        Route("/api/v1/site", get_site, methods=["GET"]),
        Route("/api/v1/site", patch_site, methods=["PATCH"]),
    ]
)
