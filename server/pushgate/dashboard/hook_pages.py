"""Event hooks out: each hook and its recent attempts."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
