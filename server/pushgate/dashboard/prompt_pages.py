"""Opt-in analytics: prompt events and prompt variants."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
