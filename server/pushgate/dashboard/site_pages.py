"""The sites pages: the list at /dashboard/, one site at /dashboard/sites/{id} (origins, VAPID
public key, embed code), and an admin's "new site" form. Editors see only their own sites:
another site's page answers 404, as a site that does not exist does."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from pushgate.api.context import context
from pushgate.dashboard.accounts import visible_site_ids
from pushgate.dashboard.embed import embed_for
from pushgate.dashboard.forms import read_form
from pushgate.dashboard.guard import operator_page
from pushgate.dashboard.navigation import see_other
from pushgate.dashboard.pages import error_page, render
from pushgate.dashboard.site_access import not_found_page, visible_site
from pushgate.dashboard.site_forms import SiteForm, parse_origins_form, parse_site_form
from pushgate.dashboard.test_push import operator_browsers
from pushgate.origins import insecure_origin_warning
from pushgate.store.models import Site, SiteChange
from pushgate.store.operator_rows import DashboardSession


@operator_page
async def site_list(request: Request, session: DashboardSession) -> Response:
    store = context(request).store
    sites = await store.site_summaries(visible_site_ids(session.operator))
    return render(request, "sites.html", session=session, sites=sites)


@operator_page
async def site_page(request: Request, session: DashboardSession) -> Response:
    site = await visible_site(request, session)
    if site is None:
        return not_found_page(request, session)
    saved = request.query_params.get("saved") == "origins"
    sent = request.query_params.get("test_sent", "")
    test_sent = int(sent) if sent.isascii() and sent.isdigit() and len(sent) < 6 else None
    return await _site_page(request, session, site, SiteForm(), saved=saved, test_sent=test_sent)


@operator_page
async def save_origins(request: Request, session: DashboardSession) -> Response:
    """Replace the site's origins (admins, and editors on their own sites)."""
    site = await visible_site(request, session)
    if site is None:
        return not_found_page(request, session)
    form = parse_origins_form(await read_form(request))
    if form.errors:
        return await _site_page(request, session, site, form, status=400)
    change = SiteChange(origins=form.origins, given=frozenset({"origins"}))
    if await context(request).store.update_site(site.id, change) is None:
        return not_found_page(request, session)  # deleted meanwhile
    return see_other(f"/dashboard/sites/{site.id}?saved=origins")


async def _site_page(
    request: Request,
    session: DashboardSession,
    site: Site,
    form: SiteForm,
    *,
    status: int = 200,
    saved: bool = False,
    test_sent: int | None = None,
) -> Response:
    ctx = context(request)
    summaries = await ctx.store.site_summaries([site.id])
    if not form.origins_text:
        form.origins_text = "\n".join(site.origins)
    return render(
        request,
        "site.html",
        status,
        session=session,
        site=site,
        form=form,
        saved=saved,
        warnings=[w for w in map(insecure_origin_warning, site.origins) if w],
        embed=embed_for(site, ctx.settings.base_url),
        subscribers=summaries[0].subscribers if summaries else 0,
        test_sent=test_sent,
        my_browsers=await operator_browsers(request, session, site.id),
    )


@operator_page
async def new_site_form(request: Request, session: DashboardSession) -> Response:
    if not session.operator.is_admin:
        return _admins_only(request, session)
    return render(request, "site_new.html", session=session, form=SiteForm())


@operator_page
async def create_site(request: Request, session: DashboardSession) -> Response:
    if not session.operator.is_admin:
        return _admins_only(request, session)
    ctx = context(request)
    form = parse_site_form(await read_form(request))
    if not form.errors and await ctx.store.find_site_by_name(form.name) is not None:
        form.errors["name"] = "A site of that name exists already: choose another name."
    if form.errors:
        return render(request, "site_new.html", 400, session=session, form=form)
    site, api_key = await ctx.store.create_site(form.name, form.origins)
    embed = embed_for(site, ctx.settings.base_url)
    # Rendered in the answer to the POST (never behind a URL), so the key is shown only once.
    return render(
        request,
        "site_created.html",
        201,
        session=session,
        site=site,
        api_key=api_key,
        embed=embed,
        subscribers=0,
        warnings=form.warnings,
    )


@operator_page
async def not_found(request: Request, session: DashboardSession) -> Response:
    return not_found_page(request, session)


def _admins_only(request: Request, session: DashboardSession) -> Response:
    return error_page(
        request, 403, "Admins only", "Only an admin can create sites.", session=session
    )
