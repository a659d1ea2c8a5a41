"""Every dashboard page but the login form goes through `operator_page`: no session, a 303 to
the login page; a state-changing request without its session's CSRF token, 403 and nothing
done."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from pushgate.dashboard.forms import FormTooLarge, read_form
from pushgate.dashboard.navigation import to_login
from pushgate.dashboard.pages import error_page
from pushgate.dashboard.sessions import current_session, tokens_match
from pushgate.store.operator_rows import DashboardSession

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"  # for a script's fetch(); forms send the field

OperatorHandler = Callable[[Request, DashboardSession], Awaitable[Response]]


def operator_page(handler: OperatorHandler) -> Callable[[Request], Awaitable[Response]]:
    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        session = await current_session(request)
        if session is None:
            going = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return to_login(going if request.method in SAFE_METHODS else None)
        if request.method not in SAFE_METHODS:
            refused = await check_csrf(request, session)
            if refused is not None:
                return refused
        return await handler(request, session)

    return endpoint


async def check_csrf(request: Request, session: DashboardSession) -> Response | None:
    """None when the request carries its session's CSRF token; else the 403 (or 413) page."""
    try:
        form = await read_form(request)
    except FormTooLarge:
        return error_page(request, 413, "Form too large", "The form sent more than it may.")
    presented = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if tokens_match(session.csrf_token, presented):
        return None
    return error_page(
        request,
        403,
        "Form expired",
        "The form was missing its security token or it did not match your session. "
        "Nothing was changed. Go back, reload the page and try again.",
        session=session,
    )
