"""Subscribers: growth, breakdowns and the searchable list."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
