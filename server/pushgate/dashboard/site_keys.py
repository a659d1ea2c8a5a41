"""A site's API keys in the dashboard: listed (name, created, last used; never the key), made
(the key shown once, in the answer to the POST) and revoked (never the last one), through the
same rules and store verbs as /api/v1/keys."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pushgate.api.context import context
from pushgate.dashboard.forms import read_form
from pushgate.dashboard.guard import operator_page
from pushgate.dashboard.navigation import see_other
from pushgate.dashboard.pages import render
from pushgate.dashboard.site_access import not_found_page, visible_site
from pushgate.site_profile import MAX_KEY_NAME_LENGTH, name_of
from pushgate.site_rules import InvalidRule
from pushgate.store.base import LastApiKey
from pushgate.store.models import Site
from pushgate.store.operator_rows import DashboardSession

LAST_KEY = (
    "This is the site's last API key, so it was not revoked: its back end would have no way "
    "to send. Create another key, put it in place, then revoke this one."
)


@operator_page
async def keys_page(request: Request, session: DashboardSession) -> Response:
    site = await visible_site(request, session)
    if site is None:
        return not_found_page(request, session)
    revoked = request.query_params.get("revoked") == "1"
    return await _render(request, session, site, revoked=revoked)


@operator_page
async def create_key(request: Request, session: DashboardSession) -> Response:
    site = await visible_site(request, session)
    if site is None:
        return not_found_page(request, session)
    ctx = context(request)
    typed = (await read_form(request)).get("name", "")[: MAX_KEY_NAME_LENGTH * 2]
    try:
        name = name_of(typed, "name", MAX_KEY_NAME_LENGTH)
    except InvalidRule:
        problem = f"Give the key a name of 1 to {MAX_KEY_NAME_LENGTH} printable characters."
        return await _render(request, session, site, status=400, name=typed, name_error=problem)
    key, api_key = await ctx.store.create_api_key(site.id, name, ctx.clock())
    # In the answer to the POST only (never behind a URL): the key is shown this once.
    return render(
        request, "key_created.html", 201, session=session, site=site, key=key, api_key=api_key
    )


@operator_page
async def revoke_key(request: Request, session: DashboardSession) -> Response:
    site = await visible_site(request, session)
    if site is None:
        return not_found_page(request, session)
    try:
        revoked = await context(request).store.revoke_api_key(
            site.id, str(request.path_params["key_id"])
        )
    except LastApiKey:
        return await _render(request, session, site, status=409, refusal=LAST_KEY)
    if not revoked:
        return not_found_page(request, session)
    return see_other(f"/dashboard/sites/{site.id}/keys?revoked=1")


async def _render(
    request: Request,
    session: DashboardSession,
    site: Site,
    *,
    status: int = 200,
    revoked: bool = False,
    name: str = "",
    name_error: str = "",
    refusal: str = "",
) -> Response:
    keys = await context(request).store.list_api_keys(site.id)
    return render(
        request,
        "site_keys.html",
        status,
        session=session,
        site=site,
        keys=keys,
        revoked=revoked,
        name=name,
        name_error=name_error,
        refusal=refusal,
        max_name=MAX_KEY_NAME_LENGTH,
        when=when,
    )


def when(seconds: float | None) -> str:
    """A stored time as the page shows it; None: never."""
    if seconds is None:
        return "never"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


routes: list[BaseRoute] = [
    Route("/sites/{site_id}/keys", keys_page, methods=["GET"]),
    Route("/sites/{site_id}/keys", create_key, methods=["POST"]),
    Route("/sites/{site_id}/keys/{key_id}/revoke", revoke_key, methods=["POST"]),
]
