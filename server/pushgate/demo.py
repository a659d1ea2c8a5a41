"""The demo: the gateway and a small news site on another origin, registered and ready to subscribe.

`run_demo(settings)` is what `pushgate demo` (and the README's first command) runs. The demo site
is the `demo-site/` folder, served with two placeholders filled in: `{{GATEWAY}}` (the gateway's
public URL) and `{{SITE_ID}}`. `python -m pushgate.demo --gateway-url … --site-id … --port …`
serves a site folder alone, which the browser tests use.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shlex
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from pushgate.demo_admin import dashboard_lines, ensure_demo_admin
from pushgate.listen import listening_socket, on_all_interfaces
from pushgate.settings import Settings, default_database

DEFAULT_DEMO_PORT = 8081
DEFAULT_CART_REMINDER_DELAY = "1m"  # the demo shop's; a real shop waits an hour or more
CART_TRIGGER = "demo shop: cart reminder"


def _demo_site_dir() -> Path:
    """Inside the installed package (next to the snippet and worker), else the repository's."""
    packaged = Path(__file__).parent / "browser" / "demo-site"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "demo-site"


DEMO_SITE_DIR = _demo_site_dir()
TEMPLATED_SUFFIXES = {".html", ".js", ".css", ".json", ".webmanifest"}
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
}
FIRST_ARTICLE = "/articles/one-line-push.html"
SPORTS_ARTICLE = "/articles/cup-final.html"
STARTUP_POLL_SECONDS = 0.05


def create_site_app(root: Path, replacements: Mapping[str, str]) -> Starlette:
    """A static site whose text files get `{{include:…}}` blocks and `{{NAME}}` placeholders
    filled in; nothing is cached."""
    root = root.resolve()

    async def serve(request: Request) -> Response:
        path = _resolve(root, request.path_params["path"])
        if path is None:
            return PlainTextResponse("Not found", status_code=404)
        media_type = MEDIA_TYPES.get(path.suffix, "application/octet-stream")
        headers = {"Cache-Control": "no-cache"}
        if path.suffix not in TEMPLATED_SUFFIXES:
            return Response(path.read_bytes(), media_type=media_type, headers=headers)
        text = _INCLUDE.sub(lambda m: _partial(root, m.group(1)), path.read_text(encoding="utf-8"))
        for name, value in replacements.items():
            text = text.replace("{{" + name + "}}", value)
        return Response(text, media_type=media_type, headers=headers)

    return Starlette(routes=[Route("/{path:path}", serve)])


_INCLUDE = re.compile(r"\{\{include:([a-z0-9-]+\.html)\}\}")


def _partial(root: Path, name: str) -> str:
    """`{{include:NAME}}`: a block shared by every page, from the site's `_partials/` folder."""
    return (root / "_partials" / name).read_text(encoding="utf-8").rstrip("\n")


def _resolve(root: Path, url_path: str) -> Path | None:
    candidate = (root / url_path).resolve()
    if candidate != root and root not in candidate.parents:
        return None  # ../ outside the site
    if candidate.is_dir():
        candidate = candidate / "index.html"
    return candidate if candidate.is_file() else None


def demo_origins(host: str, port: int) -> list[str]:
    """The origins a browser may show for the demo site: both loopback spellings when local
    (on every interface, this machine's browser reaches it by loopback too)."""
    origins = [f"http://{host}:{port}"]
    if host in {"127.0.0.1", "localhost"} or on_all_interfaces(host):
        origins = [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]
    return origins


def loopback_public_url(settings: Settings) -> str | None:
    """On every interface without a public URL, the URL this machine's browser can load:
    http://0.0.0.0:PORT in a script tag loads nothing."""
    if settings.public_url or not on_all_interfaces(settings.host):
        return None
    return f"http://127.0.0.1:{settings.port}"


def _key_file(settings: Settings, port: int) -> Path:
    # The API key is stored hashed, so the demo keeps its own copy to print it on every start.
    if settings.uses_postgres:
        return Settings().sqlite_path.parent / f"demo-{port}-postgresql.api-key"
    return settings.sqlite_path.parent / f"demo-{port}.api-key"


async def ensure_demo_site(settings: Settings, origins: list[str], port: int) -> tuple[str, str]:
    """Create the demo site registration once, or reuse it; return (site id, API key)."""
    from pushgate.store import open_store

    name = f"Demo news site ({origins[0].split('//', 1)[1]})"
    key_file = _key_file(settings, port)
    async with open_store(settings) as store:  # with its secret key
        site = await store.find_site_by_name(name)
        if site is not None and key_file.exists():
            return site.id, key_file.read_text().strip()
        if site is not None:
            name = f"{name} {os.urandom(3).hex()}"  # its key was lost: register a fresh one
        site, api_key = await store.create_site(name, origins)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.touch(mode=0o600)
    key_file.write_text(api_key + "\n")
    return site.id, api_key


def cart_reminder(delay: str, demo_url: str) -> dict[str, Any]:
    """The demo shop's cart-abandonment trigger (README, "Triggers")."""
    return {
        "when": {"event": "cart_add"},
        "delay": delay,
        "unless": {"event": "checkout", "within": "1d"},
        "group_by": "props.cart_id",
        "action": {
            "send": {
                "title": "Your Relay tote bag is waiting",
                "body": "{{ event.props.items }} in your cart: check out before it sells out.",
                "url": f"{demo_url}/shop.html",
                "icon": f"{demo_url}/icon.png",
            }
        },
    }


async def ensure_cart_trigger(settings: Settings, site_id: str, delay: str, demo_url: str) -> None:
    """The demo shop's trigger, created once, its delay set to `delay` on every start."""
    from pushgate.automation.trigger_rules import check_rule
    from pushgate.store import open_store
    from pushgate.store.automation_models import Trigger

    definition = cart_reminder(delay, demo_url)
    check_rule(definition)
    async with open_store(settings) as store:
        now = time.time()
        existing = [t for t in await store.list_triggers(site_id) if t.name == CART_TRIGGER]
        if existing:
            old = existing[0]
            await store.replace_trigger(
                Trigger(old.id, site_id, CART_TRIGGER, definition, True, old.created_at, now)
            )
            return
        trigger = Trigger(uuid.uuid4().hex, site_id, CART_TRIGGER, definition, True, now, now)
        await store.create_trigger(trigger)


def shell_setup(settings: Settings, gateway_url: str, api_key: str) -> list[str]:
    """The lines that give a new shell what the printed commands need: `pushgate` on the PATH
    (this virtualenv's, unless it is linked onto the PATH, as pipx does), the demo's database
    when it is not the default one, its API key and gateway."""
    lines = []
    activate = Path(sys.prefix) / "bin" / "activate"
    if sys.prefix != sys.base_prefix and activate.is_file() and not _linked_onto_path():
        lines.append(f". {shlex.quote(str(activate))}")
    if settings.database != default_database():
        lines.append(f"export PUSHGATE_DATABASE={shlex.quote(_absolute(settings))}")
    lines.append(f"export PUSHGATE_API_KEY={api_key}")
    lines.append(f"export PUSHGATE_GATEWAY={gateway_url}")
    return lines


def _linked_onto_path() -> bool:
    """Whether the first `pushgate` on the PATH outside this virtualenv is a link to this
    virtualenv's (as pipx installs it): then a new shell finds it without activating."""
    own_bin = (Path(sys.prefix) / "bin").resolve()
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        script = Path(folder or ".") / "pushgate"
        if Path(folder or ".").resolve() == own_bin or not script.is_file():
            continue  # the virtualenv's own bin is on the PATH only while it is activated
        return script.resolve().parent == own_bin
    return False


def _absolute(settings: Settings) -> str:
    """The database URL that works from any folder (a relative SQLite path made absolute);
    a PostgreSQL password stays out of the terminal."""
    if settings.uses_postgres:
        from pushgate.settings import _without_password

        return _without_password(settings.database)
    return f"sqlite:///{settings.sqlite_path.resolve()}"


def first_steps(
    gateway_url: str, demo_url: str, site_id: str, api_key: str, setup: list[str]
) -> str:
    """What `pushgate demo` prints: the two URLs, what a new shell needs, and two ways to send
    a first notification."""
    body = (
        '{"title": "Breaking: pushgate works", "body": "Your first notification.", '
        f'"url": "{demo_url}{FIRST_ARTICLE}", "icon": "{demo_url}/icon.png"}}'
    )
    curl = (
        f"curl -X POST {gateway_url}/api/v1/notifications -H 'Authorization: Bearer {api_key}' "
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)}"
    )
    send = (
        f"pushgate send --api-key {api_key} --gateway {gateway_url} "
        f"--title 'Breaking: pushgate works' --body 'Your first notification.' "
        f"--url {demo_url}{FIRST_ARTICLE}"
    )
    return "\n".join(
        [
            f"pushgate gateway:  {gateway_url}",
            f"demo news site:    {demo_url}   (site id {site_id})",
            "",
            "In another shell, first (pushgate on the PATH, and what the README's examples read):",
            *(f"  {line}" for line in setup),
            "",
            "Open the demo site, press 'Get breaking news', then send a first notification:",
            f"  {curl}",
            "or",
            f"  {send}",
            "",
            "Only to the readers who chose sports (the demo stores the topic as the tag topic):",
            f"  pushgate send --title 'Late winner sends City into the final' "
            f"--url {demo_url}{SPORTS_ARTICLE} --tag topic=sports --wait",
            "",
            f"The shop ({demo_url}/shop.html): add to cart and leave; a subscribed reader gets a",
            "reminder after the --cart-reminder-delay, unless they check out first.",
            "",
        ]
    )


class _DemoSiteServer(uvicorn.Server):
    # The gateway's server owns Ctrl-C; this one stops when the gateway stops.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def run_demo(
    settings: Settings,
    *,
    demo_port: int = DEFAULT_DEMO_PORT,
    cart_reminder_delay: str = DEFAULT_CART_REMINDER_DELAY,
) -> None:
    """Register the demo site, then serve the gateway and the demo site until interrupted."""
    from pushgate.app import create_app

    # Both ports first: one in use is a sentence before anything is written or started.
    gateway_socket = listening_socket(
        settings.host, settings.port, what="the gateway", port_flag="--port"
    )
    site_socket = listening_socket(
        settings.host, demo_port, what="the demo site", port_flag="--demo-port"
    )
    origins = demo_origins(settings.host, demo_port)
    site_id, api_key = await ensure_demo_site(settings, origins, demo_port)
    admin = await ensure_demo_admin(settings)
    demo_url = origins[0]
    await ensure_cart_trigger(settings, site_id, cart_reminder_delay, demo_url)
    replacements = {"GATEWAY": settings.base_url, "SITE_ID": site_id}
    site_server = _DemoSiteServer(
        uvicorn.Config(create_site_app(DEMO_SITE_DIR, replacements), log_level="warning")
    )
    gateway_server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    site_task = asyncio.create_task(site_server.serve(sockets=[site_socket]))
    gateway_task = asyncio.create_task(gateway_server.serve(sockets=[gateway_socket]))
    try:
        while not (site_server.started and gateway_server.started):
            if site_task.done() or gateway_task.done():
                break  # uvicorn has said why; stop the other one below
            await asyncio.sleep(STARTUP_POLL_SECONDS)
        else:
            setup = shell_setup(settings, settings.base_url, api_key)
            steps = first_steps(settings.base_url, demo_url, site_id, api_key, setup)
            print(steps + "\n" + "\n".join(dashboard_lines(settings.base_url, admin)), flush=True)
        await asyncio.wait([site_task, gateway_task], return_when=asyncio.FIRST_COMPLETED)
    finally:
        site_server.should_exit = gateway_server.should_exit = True
        await asyncio.gather(site_task, gateway_task, return_exceptions=True)
    if not (site_server.started and gateway_server.started):
        raise SystemExit(1)


def main(argv: list[str] | None = None) -> None:
    """Serve one site folder with the placeholders filled in (used by tests/browser)."""
    parser = argparse.ArgumentParser(prog="python -m pushgate.demo", description=main.__doc__)
    parser.add_argument("--gateway-url", required=True)
    parser.add_argument("--site-id", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_DEMO_PORT)
    parser.add_argument("--root", type=Path, default=DEMO_SITE_DIR)
    args = parser.parse_args(argv)
    replacements = {"GATEWAY": args.gateway_url.rstrip("/"), "SITE_ID": args.site_id}
    print(f"demo site listening on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(
        create_site_app(args.root, replacements),
        host=args.host,
        port=args.port,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
