"""A site's settings (prompt words, time zone, quiet hours, frequency cap), its API keys
and "Send a test to me"."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
