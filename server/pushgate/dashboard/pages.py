"""Rendering dashboard pages: Jinja2 with autoescaping on for every .html template (these are
operators' pages, not the sandboxed notification templates of pushgate.content)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from pushgate import __version__
from pushgate.dashboard.security import content_security_policy, new_nonce

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"], default_for_string=True, default=True),
    undefined=StrictUndefined,  # a misspelt variable fails the test, not the page silently
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(
    request: Request,
    template: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    """The page, with a fresh CSP nonce that inline <script>/<style> must carry."""
    nonce = new_nonce()
    values.setdefault("session", None)
    html = _env.get_template(template).render(
        request=request, nonce=nonce, version=__version__, **values
    )
    response = HTMLResponse(html, status_code=status, headers=headers)
    response.headers["Content-Security-Policy"] = content_security_policy(nonce)
    return response


def error_page(
    request: Request, status: int, title: str, message: str, **values: Any
) -> HTMLResponse:
    return render(request, "error.html", status, title=title, message=message, **values)
