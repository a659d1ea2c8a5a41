"""Event hooks out in the dashboard: a site's hooks (URL, events, created, state), each with its
recent attempts and failures; a hook made (its secret as given, or generated, shown once in the
answer to the POST) and deleted, through the same service as /api/v1/event-hooks."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pushgate.api.context import context
from pushgate.dashboard.forms import field, read_form
from pushgate.dashboard.guard import operator_page
from pushgate.dashboard.navigation import see_other
from pushgate.dashboard.pages import render
from pushgate.dashboard.site_access import not_found_page, visible_site
from pushgate.hooks_out.model import (
    EVENT_TYPES,
    MAX_SECRET_CHARS,
    MAX_URL_CHARS,
    MIN_SECRET_CHARS,
    HookRefused,
    new_secret,
)
from pushgate.hooks_out.service import create_hook, delete_hook
from pushgate.store.models import Site
from pushgate.store.operator_rows import DashboardSession

ATTEMPTS_SHOWN = 20  # per hook on the page; the store keeps the last 100
EVENT_HINTS = {
    "sent": "a push service accepted a notification for a subscriber",
    "delivered": "the browser showed it",
    "clicked": "the subscriber clicked it (or one of its buttons)",
    "dismissed": "the subscriber closed it",
    "subscribed": "a browser subscribed",
    "unsubscribed": "a subscription was removed (by the browser or the API)",
    "gone": "the push service said the subscription no longer exists",
}


@operator_page
async def hooks_page(request: Request, session: DashboardSession) -> Response:
    site = await visible_site(request, session)
    if site is None:
        return not_found_page(request, session)
    deleted = request.query_params.get("deleted") == "1"
    return await _render(request, session, site, deleted=deleted)


@operator_page
async def create_hook_page(request: Request, session: DashboardSession) -> Response:
    site = await visible_site(request, session)
    if site is None:
        return not_found_page(request, session)
    ctx = context(request)
    form = await read_form(request)
    url = field(form, "url", MAX_URL_CHARS + 1)
    events = [e for e in form.getlist("events") if e in EVENT_TYPES]
    typed_secret = field(form, "secret", MAX_SECRET_CHARS + 1)
    secret = typed_secret or new_secret()
    try:
        hook = await create_hook(
            ctx.store, ctx.hooks, ctx.settings.allowed_hook_hosts, site.id,
            url=url, events=events, secret=secret, now=ctx.clock(),
        )  # fmt: skip
    except HookRefused as exc:
        return await _render(
            request, session, site, status=400, problem=str(exc), url=url, chosen=events
        )
    # In the answer to the POST only (never behind a URL): the secret is shown this once.
    return render(
        request, "hook_created.html", 201, session=session, site=site, hook=hook,
        secret=secret, generated=not typed_secret,
    )  # fmt: skip


@operator_page
async def delete_hook_page(request: Request, session: DashboardSession) -> Response:
    site = await visible_site(request, session)
    if site is None:
        return not_found_page(request, session)
    ctx = context(request)
    if not await delete_hook(ctx.store, ctx.hooks, site.id, str(request.path_params["hook_id"])):
        return not_found_page(request, session)
    return see_other(f"/dashboard/sites/{site.id}/event-hooks?deleted=1")


async def _render(
    request: Request,
    session: DashboardSession,
    site: Site,
    *,
    status: int = 200,
    deleted: bool = False,
    problem: str = "",
    url: str = "",
    chosen: list[str] | None = None,
) -> Response:
    store = context(request).store
    hooks = await store.list_event_hooks(site.id)
    attempts = {hook.id: await store.hook_attempts(hook.id, ATTEMPTS_SHOWN) for hook in hooks}
    return render(
        request, "hooks.html", status, session=session, site=site, hooks=hooks,
        attempts=attempts, deleted=deleted, problem=problem, problem_field=_field_of(problem),
        url=url, chosen=chosen if chosen is not None else list(EVENT_TYPES),
        event_types=EVENT_TYPES, hints=EVENT_HINTS, when=when, max_url=MAX_URL_CHARS,
        min_secret=MIN_SECRET_CHARS, max_secret=MAX_SECRET_CHARS,
    )  # fmt: skip


def _field_of(problem: str) -> str:
    """Which field a refusal is about, to mark it and link the message to it."""
    for name in ("events", "secret"):
        if problem.startswith(name):
            return name
    return "url" if problem else ""


def when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


routes: list[BaseRoute] = [
    Route("/sites/{site_id}/event-hooks", hooks_page, methods=["GET"]),
    Route("/sites/{site_id}/event-hooks", create_hook_page, methods=["POST"]),
    Route("/sites/{site_id}/event-hooks/{hook_id}/delete", delete_hook_page, methods=["POST"]),
]
