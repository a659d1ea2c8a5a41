"""The dashboard's routes, all under /dashboard, every response with the security headers."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from pushgate.dashboard import (
    compose_pages,
    hook_pages,
    login,
    notification_pages,
    prompt_pages,
    site_pages,
    site_settings,
    subscriber_pages,
)
from pushgate.dashboard.pages import STATIC
from pushgate.dashboard.security import SecurityHeaders

routes = [
    Mount(
        "/dashboard",
        routes=[
            Route("/", site_pages.site_list, methods=["GET"]),
            Route("/login", login.login_form, methods=["GET"]),
            Route("/login", login.log_in, methods=["POST"]),
            Route("/logout", login.log_out, methods=["POST"]),
            Route("/sites/new", site_pages.new_site_form, methods=["GET"]),
            Route("/sites/new", site_pages.create_site, methods=["POST"]),
            Route("/sites/{site_id}", site_pages.site_page, methods=["GET"]),
            Route("/sites/{site_id}/origins", site_pages.save_origins, methods=["POST"]),
            # Each page group owns its routes (paths under /sites/{site_id}/…).
            *site_settings.routes,
            *compose_pages.routes,
            *notification_pages.routes,
            *subscriber_pages.routes,
            *prompt_pages.routes,
            *hook_pages.routes,
            Mount("/static", StaticFiles(directory=STATIC), name="dashboard-static"),
            # Anything else: 404 for an operator, the login page for anyone else.
            Route("/{path:path}", site_pages.not_found, methods=["GET", "POST"]),
        ],
        middleware=[Middleware(SecurityHeaders)],
    )
]
