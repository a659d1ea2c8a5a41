"""Headers every dashboard response carries: a strict Content-Security-Policy (scripts and
styles only from the gateway itself, or inline with the page's nonce), no framing, no referrer
beyond the gateway, no sniffing, and no caching of pages that show operators' data."""

from __future__ import annotations

import secrets

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_PREFIX = "/dashboard/static/"


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def content_security_policy(nonce: str | None = None) -> str:
    inline = f" 'nonce-{nonce}'" if nonce else ""
    return (
        f"default-src 'self'; script-src 'self'{inline}; style-src 'self'{inline}; "
        "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )


HEADERS = {
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class SecurityHeaders:
    """ASGI middleware for the /dashboard mount: adds the headers a response has not set
    itself (a page rendered with a nonce sets its own Content-Security-Policy). The router's
    own refusals (a missing stylesheet, a wrong method) are answered here, with the headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith(STATIC_PREFIX)
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                headers.setdefault("Content-Security-Policy", content_security_policy())
                # The stylesheet may be revalidated from cache; pages are never stored.
                headers["Cache-Control"] = "no-cache" if static else "no-store"
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except HTTPException as exc:
            if started:
                raise
            refusal = PlainTextResponse(str(exc.detail), exc.status_code, headers=exc.headers)
            await refusal(scope, receive, send_with_headers)
