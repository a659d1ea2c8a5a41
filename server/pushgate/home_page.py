"""The gateway's home page at `/`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from pushgate import __version__
from pushgate.api.context import context
from pushgate.api.http import contain_unexpected


async def home(request: Request) -> Response:
    base = context(request).settings.base_url
    return HTMLResponse(
        f"""<!doctype html><meta charset="utf-8"><title>pushgate {__version__}</title>
<h1>pushgate {__version__}</h1>
<p>A self-hosted Web Push gateway. Embed
<code>&lt;script src="{base}/static/pushgate.js" data-site="SITE_ID" async&gt;&lt;/script&gt;</code>
on your site; send with <code>POST {base}/api/v1/notifications</code>.</p>
<p>Documentation: <code>README.md</code> in the pushgate distribution (quickstart, embedding,
HTTP API, settings, error codes). Health: <a href="/healthz">/healthz</a>.</p>"""
    )


routes = contain_unexpected([Route("/", home, methods=["GET"])])
