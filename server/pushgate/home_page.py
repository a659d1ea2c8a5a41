"""The gateway's home page at `/`: what it is, its health, its sites, the docs, the snippet."""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from pushgate import __version__
from pushgate.api.context import AppContext, context
from pushgate.api.http import contain_unexpected
from pushgate.docs_pages import doc_links, docs_root
from pushgate.errors import ApiError
from pushgate.health import check_health
from pushgate.listen import on_all_interfaces
from pushgate.page_layout import ASSETS_DIR, assets_mount, page

ABOUT = (
    "A self-hosted Web Push gateway. A site embeds one script tag; visitors who opt in become "
    "subscribers; the site's back end calls one HTTP API, and this gateway encrypts a message "
    "for each subscriber (RFC 8291), signs it with the site's VAPID key (RFC 8292) and hands it "
    "to each browser's push service."
)


async def home(request: Request) -> Response:
    ctx = context(request)
    body = "".join(
        [
            f"<h1>pushgate <small>{escape(__version__)}</small></h1>",
            f'<p class="lead">{escape(ABOUT)}</p>',
            await _status(ctx),
            _embed(_gateway_url(request)),
            _docs(),
        ]
    )
    return page(f"pushgate {__version__}", body, current="/")


async def _status(ctx: AppContext) -> str:
    """Health from the checks /healthz makes, and the number of sites."""
    try:
        report = await check_health(ctx)
    except ApiError as exc:
        state, detail = "unavailable", exc.message
    else:
        state, detail = "ok", ""
    rows = [("Health", f'<span class="state {state}">{state}</span> {escape(detail)}')]
    rows.append(("Database", escape(str(ctx.database.get("backend", "")))))
    if state == "ok":
        rows.append(("Sites", str(len(await ctx.store.list_sites()))))
        if workers := report.get("send_workers"):
            running = f"{workers['running']} of {workers['configured']} running"
            rows.append(("Send workers", running))
    cells = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
    return (
        f'<section><h2>Status</h2><dl class="status">{cells}</dl>'
        '<p class="more">As JSON: <a href="/healthz">/healthz</a>.</p></section>'
    )


def _gateway_url(request: Request) -> str:
    """The URL browsers load the snippet from: the public URL; without one, on every
    interface, the address this page was reached at (http://0.0.0.0:PORT loads nothing)."""
    settings = context(request).settings
    if settings.public_url or not on_all_interfaces(settings.host):
        return settings.base_url
    return str(request.base_url).rstrip("/")


def _embed(base_url: str) -> str:
    base = escape(base_url)
    script = (
        f'&lt;script src="{base}/static/pushgate.js" data-site="SITE_ID" async&gt;&lt;/script&gt;\n'
        "&lt;button data-pushgate-subscribe&gt;Get notifications&lt;/button&gt;"
    )
    worker = f'importScripts("{base}/sw/pushgate-sw.js");'
    return f"""<section><h2>Embed it on a site</h2>
<p>Register the site once (<code>pushgate sites create --name NAME --origin https://SITE</code>
prints its id; <code>pushgate sites list</code> shows it again), then put on every page that
offers notifications:</p>
<pre class="snippet"><code>{script}</code></pre>
<p>and serve this one line at <code>/pushgate-sw.js</code> on the site's own origin:</p>
<pre class="snippet"><code>{worker}</code></pre>
<p class="more">Everything else: <a href="/docs/embedding">Embedding pushgate on a site</a>.</p>
</section>"""


def _docs() -> str:
    items = "".join(
        f'<li><a href="{url}">{escape(label)}</a></li>' for url, label in doc_links(docs_root())
    )
    return f"""<section><h2>Documentation</h2>
<p>Shipped with this gateway, the same text as its README and docs folder:</p>
<ul class="links">{items}</ul>
<p class="more">The HTTP API as OpenAPI: <a href="/openapi.json">/openapi.json</a>.</p>
</section>"""


async def favicon(request: Request) -> Response:
    return FileResponse(ASSETS_DIR / "favicon.ico", media_type="image/x-icon")


routes: list[BaseRoute] = [
    *contain_unexpected(
        [
            Route("/", home, methods=["GET"]),
            Route("/favicon.ico", favicon, methods=["GET"]),
        ]
    ),
    assets_mount(),
]
