"""The frame the gateway's own HTML pages share (home page, docs): one stylesheet served as a
file, an icon, the navigation, and headers that allow no script at all."""

from __future__ import annotations

from html import escape
from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from pushgate import __version__

ASSETS_DIR = Path(__file__).parent / "page_assets"  # package data, in a checkout and a wheel

# The pages need nothing but their own stylesheet and icon: no script, no inline style, no frame.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

# (URL, label) of the top navigation; the dashboard asks for a login first.
CURRENT = ' aria-current="page"'
NAV_LINKS: list[tuple[str, str]] = [
    ("/", "Home"),
    ("/docs/", "Docs"),
    ("/dashboard/", "Dashboard"),
]


def page(title: str, body: str, *, current: str, status: int = 200) -> HTMLResponse:
    """A whole page around `body` (HTML, already escaped); `current` is the nav URL to mark."""
    nav = "".join(
        f'<a href="{url}"{CURRENT if url == current else ""}>{escape(label)}</a>'
        for url, label in NAV_LINKS
    )
    html = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="stylesheet" href="/assets/pushgate.css">
<link rel="icon" href="/assets/icon.svg" type="image/svg+xml">
</head>
<body>
<header class="top"><a class="brand" href="/"><img src="/assets/icon.svg" alt="" width="24"
height="24">pushgate</a><nav>{nav}</nav></header>
<main>
{body}
</main>
<footer>pushgate {escape(__version__)} · self-hosted Web Push</footer>
</body>
</html>
"""
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def assets_mount() -> Mount:
    """The stylesheet and icons at /assets/ (with ETag and Last-Modified)."""
    return Mount("/assets", StaticFiles(directory=ASSETS_DIR))
