"""A site's settings (prompt words, time zone, quiet hours, frequency cap), its API keys
and "Send a test to me". This module has the settings page; the routes of the other two
(site_keys, test_push) are gathered here, so dashboard/routes.py names one list."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pushgate.api.context import context
from pushgate.dashboard import site_keys, test_push
from pushgate.dashboard.forms import read_form
from pushgate.dashboard.guard import operator_page
from pushgate.dashboard.navigation import see_other
from pushgate.dashboard.pages import render
from pushgate.dashboard.settings_form import SettingsForm, form_of_site, parse_settings_form
from pushgate.dashboard.site_access import not_found_page, visible_site
from pushgate.site_rules import CLOCK_PATTERN, PERIOD_PATTERN
from pushgate.store.models import Site
from pushgate.store.operator_rows import DashboardSession


@operator_page
async def settings_page(request: Request, session: DashboardSession) -> Response:
    site = await visible_site(request, session)
    if site is None:
        return not_found_page(request, session)
    saved = request.query_params.get("saved") == "1"
    return await _render(request, session, site, form_of_site(site), saved=saved)


@operator_page
async def save_settings(request: Request, session: DashboardSession) -> Response:
    """Admins, and editors on their own sites: the same checks and writes as PATCH /api/v1/site."""
    site = await visible_site(request, session)
    if site is None:
        return not_found_page(request, session)
    form = parse_settings_form(await read_form(request))
    if form.errors or form.change is None or form.rules is None:
        return await _render(request, session, site, form, status=400)
    store = context(request).store
    updated = await store.update_site(site.id, form.change)
    if updated is not None:
        updated = await store.update_site_rules(site.id, form.rules)
    if updated is None:
        return not_found_page(request, session)  # deleted meanwhile
    return see_other(f"/dashboard/sites/{site.id}/settings?saved=1")


async def _render(
    request: Request,
    session: DashboardSession,
    site: Site,
    form: SettingsForm,
    *,
    status: int = 200,
    saved: bool = False,
) -> Response:
    return render(
        request,
        "site_settings.html",
        status,
        session=session,
        site=site,
        form=form,
        saved=saved,
        # With prompt variants, browsers are shown those (Prompt page), not these words.
        has_variants=bool(await context(request).store.prompt_variants(site.id)),
        clock_pattern=CLOCK_PATTERN,
        period_pattern=PERIOD_PATTERN,
    )


routes: list[BaseRoute] = [
    Route("/sites/{site_id}/settings", settings_page, methods=["GET"]),
    Route("/sites/{site_id}/settings", save_settings, methods=["POST"]),
    *site_keys.routes,
    *test_push.routes,
]
