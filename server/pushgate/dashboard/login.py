"""Logging in and out: /dashboard/login (fields Email and Password, button "Log in") and
/dashboard/logout. Failed logins count against the account and the client address."""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import Response

from pushgate.api.client_address import ClientAddresses
from pushgate.api.context import context
from pushgate.dashboard import lockout
from pushgate.dashboard.accounts import MAX_EMAIL_LENGTH
from pushgate.dashboard.forms import FormTooLarge, field, read_form
from pushgate.dashboard.guard import operator_page
from pushgate.dashboard.navigation import LOGIN, safe_next, see_other
from pushgate.dashboard.pages import error_page, render
from pushgate.dashboard.passwords import MAX_PASSWORD_LENGTH, verify_password_async
from pushgate.dashboard.sessions import (
    current_session,
    end_session,
    login_form_token,
    login_form_token_ok,
    remember_login_form_token,
    start_session,
)
from pushgate.store.operator_rows import DashboardSession

WRONG = "Wrong email or password."


async def login_form(request: Request) -> Response:
    next_path = safe_next(request.query_params.get("next"))
    if await current_session(request) is not None:
        return see_other(next_path)
    return _form(request, 200, next_path=next_path)


async def log_in(request: Request) -> Response:
    try:
        form = await read_form(request)
    except FormTooLarge:
        return error_page(request, 413, "Form too large", "The form sent more than it may.")
    next_path = safe_next(form.get("next"))
    if not login_form_token_ok(request, form.get("csrf_token")):
        return error_page(
            request,
            403,
            "Form expired",
            "The login form was missing its security token. Nothing was changed. "
            "Load the login page again and retry.",
        )
    email = field(form, "email", MAX_EMAIL_LENGTH).lower()
    password = form.get("password", "")[: MAX_PASSWORD_LENGTH + 1]
    subjects = lockout.LoginSubjects(email, _client_address(request))
    async with lockout.one_attempt_at_a_time(subjects):
        return await _attempt(request, subjects, password, next_path)


async def _attempt(
    request: Request, subjects: lockout.LoginSubjects, password: str, next_path: str
) -> Response:
    """Check the lock, then the password; count a failure, or start a session."""
    ctx = context(request)
    now = ctx.clock()
    lock_end = await lockout.lock_end(ctx.store, subjects, now)
    if lock_end is not None:
        return _locked(request, lock_end - now, subjects.email, next_path)
    operator = await ctx.store.operator_by_email(subjects.email) if subjects.email else None
    stored = operator.password_hash if operator else None
    verified = await verify_password_async(stored, password)
    if operator is None or not verified.ok:
        await lockout.record_failure(ctx.store, subjects, now)
        return _form(request, 401, email=subjects.email, next_path=next_path, error=WRONG)
    if verified.new_hash is not None:  # argon2's parameters went up since this hash was made
        await ctx.store.set_operator_password(
            operator.id, verified.new_hash, now, end_sessions=False
        )
    await lockout.record_success(ctx.store, subjects)
    response = see_other(next_path)
    await start_session(request, response, operator)
    return response


@operator_page
async def log_out(request: Request, session: DashboardSession) -> Response:
    response = see_other(LOGIN)
    await end_session(request, response, session)
    return response


def _form(
    request: Request, status: int, headers: dict[str, str] | None = None, **values: str
) -> Response:
    token = login_form_token(request)
    values = {"email": "", "error": "", **values}
    response = render(request, "login.html", status, headers, csrf_token=token, **values)
    remember_login_form_token(request, response, token)
    return response


def _locked(request: Request, seconds: float, email: str, next_path: str) -> Response:
    minutes = max(1, math.ceil(seconds / 60))
    return _form(
        request,
        429,
        {"Retry-After": str(math.ceil(seconds))},
        email=email,
        next_path=next_path,
        error=f"Too many failed logins. Try again in {minutes} minute{'s' * (minutes != 1)}.",
    )


def _client_address(request: Request) -> str:
    """The client as the rate limits see it: behind PUSHGATE_TRUSTED_PROXIES, the address the
    proxy saw; an IPv6 client by its /64."""
    return ClientAddresses(context(request).settings.trusted_proxies).key(request.scope)
