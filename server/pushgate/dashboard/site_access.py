"""Which site a /dashboard/sites/{site_id}/… page is about, if this operator may see it: every
site page starts here, so an editor gets the same 404 for another site as for no site."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from pushgate.api.context import context
from pushgate.dashboard.accounts import may_see
from pushgate.dashboard.pages import error_page
from pushgate.store.models import Site
from pushgate.store.operator_rows import DashboardSession


async def visible_site(request: Request, session: DashboardSession) -> Site | None:
    """The site named by the path's `site_id`; None when it does not exist or is not theirs."""
    site_id = str(request.path_params["site_id"])
    if not may_see(session.operator, site_id):
        return None
    return await context(request).store.get_site(site_id)


def not_found_page(request: Request, session: DashboardSession) -> Response:
    return error_page(
        request, 404, "Not found", "There is no such page, or it is not yours.", session=session
    )
