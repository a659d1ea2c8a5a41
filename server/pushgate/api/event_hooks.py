"""Event streams out (issue #12 part 8): `/api/v1/event-hooks` to manage a site's hooks.
`POST {"url", "events": [...], "secret"}` -> 201; the secret is never shown again. The events
themselves leave through pushgate.hooks_out's dispatcher."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pushgate.api.admin import authenticated_site
from pushgate.api.context import AppContext, context
from pushgate.api.http import contain_unexpected, json_response, read_json
from pushgate.api.render import iso
from pushgate.api.validation import invalid, require_object
from pushgate.errors import ApiError
from pushgate.hooks_out.model import HookRefused
from pushgate.hooks_out.service import create_hook, delete_hook
from pushgate.store.event_hook_rows import EventHook, HookAttempt

MAX_BODY_BYTES = 8 * 1024
FIELDS = ("url", "events", "secret")
ATTEMPTS_SHOWN = 20


def hook_json(hook: EventHook) -> dict[str, Any]:
    """A hook as the API shows it: never its secret."""
    return {
        "id": hook.id,
        "url": hook.url,
        "events": list(hook.events),
        "created_at": iso(hook.created_at),
        "failing": hook.backoff > 0,
        "next_attempt_at": iso(hook.next_attempt_at) if hook.backoff > 0 else None,
        "dropped_events": hook.dropped,
    }


def attempt_json(attempt: HookAttempt) -> dict[str, Any]:
    return {
        "at": iso(attempt.at),
        "status": attempt.status,
        "error": attempt.error,
        "events": attempt.event_count,
    }


async def create_event_hook(request: Request) -> Response:
    site = await authenticated_site(request)
    ctx = context(request)
    data = require_object(await read_json(request, MAX_BODY_BYTES), "body")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise invalid(f"unknown member {unknown[0]!r}; an event hook takes {', '.join(FIELDS)}")
    try:
        hook = await create_hook(
            ctx.store, ctx.hooks, ctx.settings.allowed_hook_hosts, site.id,
            url=data.get("url"), events=data.get("events"), secret=data.get("secret"),
            now=ctx.clock(),
        )  # fmt: skip
    except HookRefused as exc:
        raise invalid(str(exc)) from None
    return json_response(hook_json(hook), 201)


async def list_event_hooks(request: Request) -> Response:
    site = await authenticated_site(request)
    hooks = await context(request).store.list_event_hooks(site.id)
    return json_response({"data": [hook_json(h) for h in hooks]})


async def _own_hook(request: Request) -> tuple[EventHook, AppContext]:
    site = await authenticated_site(request)
    ctx = context(request)
    hook = await ctx.store.get_event_hook(site.id, request.path_params["hook_id"])
    if hook is None:
        raise ApiError("not_found", "no such event hook for this site")
    return hook, ctx


async def get_event_hook(request: Request) -> Response:
    """The hook and its latest attempts, the newest first."""
    hook, ctx = await _own_hook(request)
    attempts = await ctx.store.hook_attempts(hook.id, ATTEMPTS_SHOWN)
    return json_response(hook_json(hook) | {"attempts": [attempt_json(a) for a in attempts]})


async def remove_event_hook(request: Request) -> Response:
    hook, ctx = await _own_hook(request)
    await delete_hook(ctx.store, ctx.hooks, hook.site_id, hook.id)
    return Response(status_code=204)


routes = contain_unexpected(
    [
        Route("/api/v1/event-hooks", create_event_hook, methods=["POST"]),
        Route("/api/v1/event-hooks", list_event_hooks, methods=["GET"]),
        Route("/api/v1/event-hooks/{hook_id}", get_event_hook, methods=["GET"]),
        Route("/api/v1/event-hooks/{hook_id}", remove_event_hook, methods=["DELETE"]),
    ]
)
