"""Run the app under uvicorn and say where it listens once it does."""

from __future__ import annotations

import asyncio
import logging

import click
import uvicorn

from pushgate.app import create_app
from pushgate.settings import Settings


async def run_server(settings: Settings, *, announce: str = "pushgate listening on") -> None:
    config = uvicorn.Config(
        create_app(settings, deliver=not settings.no_deliver),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        log_config=None,  # pushgate.logs set up the root logger: uvicorn's records go there
        proxy_headers=False,
        server_header=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():
        await asyncio.sleep(0.02)
    if server.started:
        line = f"{announce} http://{settings.host}:{settings.port} (public URL {settings.base_url})"
        if settings.log_format.lower() == "json":  # log shippers read one JSON object a line
            logging.getLogger("pushgate").info(line)
        else:
            click.echo(line)
    await serving
    if not server.started:
        raise SystemExit(1)
