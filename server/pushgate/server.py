"""Run the app under uvicorn and say where it listens once it does."""

from __future__ import annotations

import asyncio
import logging

import click
import uvicorn

from pushgate.app import create_app
from pushgate.listen import listening_socket, on_all_interfaces
from pushgate.settings import Settings


def public_url_warning(settings: Settings) -> str | None:
    """On every interface without a public URL, http://0.0.0.0:PORT is no URL a browser can
    load: script tags and links made from it would be broken."""
    if settings.public_url or not on_all_interfaces(settings.host):
        return None
    return (
        f"listening on every interface ({settings.host}) without --public-url: set "
        "--public-url or PUSHGATE_PUBLIC_URL to the URL browsers reach this gateway at "
        "(https://push.example.com), or script tags and links point nowhere"
    )


async def run_server(settings: Settings, *, announce: str = "pushgate listening on") -> None:
    warning = public_url_warning(settings)
    if warning is not None:
        logging.getLogger("pushgate").warning(warning)
    sock = listening_socket(settings.host, settings.port, what="the gateway", port_flag="--port")
    if settings.metrics_port:  # bound for real once the app starts; a port in use fails here
        listening_socket(
            settings.host, settings.metrics_port, what="the metrics listener",
            port_flag="--metrics-port",
        ).close()  # fmt: skip
    config = uvicorn.Config(
        create_app(settings, deliver=not settings.no_deliver),
        log_level="warning",
        log_config=None,  # pushgate.logs set up the root logger: uvicorn's records go there
        proxy_headers=False,
        server_header=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not serving.done():
        await asyncio.sleep(0.02)
    if server.started:
        _say(settings, listening_line(settings, announce))
    await serving
    if not server.started:
        raise SystemExit(1)


def listening_line(settings: Settings, announce: str) -> str:
    host = f"[{settings.host}]" if ":" in settings.host else settings.host  # IPv6
    where = f"http://{host}:{settings.port}"
    if public_url_warning(settings) is not None:
        return f"{announce} {where} (no public URL: see the warning above)"
    return f"{announce} {where} (public URL {settings.base_url})"


def _say(settings: Settings, line: str) -> None:
    if settings.log_format.lower() == "json":  # log shippers read one JSON object a line
        logging.getLogger("pushgate").info(line)
    else:
        click.echo(line)
