"""Dashboard sessions: a random token in an HttpOnly cookie scoped to /dashboard, kept in the
database only as its SHA-256, with the session's CSRF token beside it; and the login form's own
CSRF token (a double-submit cookie: there is no session yet to keep it in)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from pushgate.api.context import context
from pushgate.store.operator_rows import DashboardSession, Operator

SESSION_COOKIE = "pushgate_session"
SESSION_SECONDS = 12 * 3600  # a working day; then log in again
COOKIE_PATH = "/dashboard"
LOGIN_COOKIE = "pushgate_login"
LOGIN_PATH = "/dashboard/login"
LOGIN_FORM_SECONDS = 3600  # a login form left open longer must be loaded again
TOKEN_BYTES = 32


def token_hash(token: str) -> str:
    # Session tokens are 256-bit random values: one SHA-256 is enough (nothing to stretch).
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_match(expected: str, presented: str | None) -> bool:
    """Constant-time comparison, so the time taken says nothing about how much matched."""
    return bool(presented) and hmac.compare_digest(expected.encode(), (presented or "").encode())


async def start_session(request: Request, response: Response, operator: Operator) -> None:
    """A new session for `operator`, its cookie set on `response`."""
    ctx = context(request)
    token, now = secrets.token_urlsafe(TOKEN_BYTES), ctx.clock()
    await ctx.store.create_dashboard_session(
        token_hash(token),
        operator.id,
        secrets.token_urlsafe(TOKEN_BYTES),
        now,
        now + SESSION_SECONDS,
    )
    _set_cookie(request, response, SESSION_COOKIE, token, SESSION_SECONDS, COOKIE_PATH, "lax")


async def current_session(request: Request) -> DashboardSession | None:
    """The request's session, unless it is missing, expired or ended."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 200:
        return None
    ctx = context(request)
    return await ctx.store.dashboard_session(token_hash(token), ctx.clock())


async def end_session(request: Request, response: Response, session: DashboardSession) -> None:
    await context(request).store.end_dashboard_session(session.token_hash)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, secure=_secure(request), httponly=True)


def login_form_token(request: Request) -> str:
    """The login form's CSRF token: the one in the browser's cookie, or a new one."""
    token = request.cookies.get(LOGIN_COOKIE)
    if not token or len(token) > 200:
        token = secrets.token_urlsafe(TOKEN_BYTES)
    return token


def remember_login_form_token(request: Request, response: Response, token: str) -> None:
    _set_cookie(request, response, LOGIN_COOKIE, token, LOGIN_FORM_SECONDS, LOGIN_PATH, "strict")


def login_form_token_ok(request: Request, presented: str | None) -> bool:
    return tokens_match(request.cookies.get(LOGIN_COOKIE, ""), presented)


def _set_cookie(
    request: Request,
    response: Response,
    name: str,
    value: str,
    max_age: int,
    path: str,
    samesite: str,
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        secure=_secure(request),
        httponly=True,
        samesite=samesite,  # type: ignore[arg-type]
    )


def _secure(request: Request) -> bool:
    """Secure cookies when browsers reach the gateway over https (its public URL says so)."""
    return context(request).settings.base_url.startswith("https://")
