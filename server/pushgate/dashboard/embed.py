"""The code a site pastes in: the script tag, the one-line worker file, and how to check that it
works (the README's "Embedding" section says the same)."""

from __future__ import annotations

from dataclasses import dataclass

from pushgate.store.models import Site

WORKER_PATH = "/pushgate-sw.js"


@dataclass(frozen=True)
class Embed:
    script_tag: str
    button: str
    worker_path: str
    worker_line: str
    checks: tuple[str, ...]


def embed_for(site: Site, gateway_url: str) -> Embed:
    origin = site.origins[0] if site.origins else "https://your-site.example"
    return Embed(
        script_tag=(
            f'<script src="{gateway_url}/static/pushgate.js" data-site="{site.id}" async></script>'
        ),
        button="<button data-pushgate-subscribe>Get notifications</button>",
        worker_path=WORKER_PATH,
        worker_line=f'importScripts("{gateway_url}/sw/pushgate-sw.js");',
        checks=(
            f"Open {origin}{WORKER_PATH} in a browser: it shows the importScripts line.",
            f"Open a page of {origin} with the script tag and press the button: the browser "
            "asks whether to show notifications.",
            "Allow them, then reload this page: the subscriber count has gone up by one.",
            "Send a notification from Compose (or with the site's API key: pushgate send "
            "--api-key KEY --title Hello, or POST /api/v1/notifications): it appears.",
        ),
    )
