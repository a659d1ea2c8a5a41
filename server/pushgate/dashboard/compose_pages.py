"""The composer at /dashboard/sites/{id}/compose."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
