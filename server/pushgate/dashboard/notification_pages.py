"""Notifications: the paged list and one notification's funnel."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
