"""`POST /v1/sites/{site_id}/prompt-events`: the snippet reports what its soft prompt did
(`shown`, `accepted`, `dismissed`) and the browser's answer (`granted`, `denied`), with the
variant the browser sticks to (issue #12 part 6).

Unauthenticated, so bounded: CORS for the site's own origins only (as the subscribe route), a
small body, events and variants checked, rate-limited per client (api/limits.py), and each event
one upsert into a daily counter (pushgate.prompt_variants), never a row per event.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pushgate.api.context import context
from pushgate.api.http import contain_unexpected, error_response, read_json
from pushgate.api.public import _site_and_origin, preflight
from pushgate.errors import ApiError
from pushgate.prompt_variants import record_prompt_event
from pushgate.site_rules import InvalidRule

MAX_PROMPT_EVENT_BODY_BYTES = 256  # {"event": "dismissed", "variant": <32 characters>} and room


async def prompt_event(request: Request) -> Response:
    """`204`; `400` for an unknown event or variant; errors carry the CORS headers too."""
    site, headers = await _site_and_origin(request, require_origin=True)
    ctx = context(request)
    try:
        body = await read_json(request, MAX_PROMPT_EVENT_BODY_BYTES)
        await record_prompt_event(ctx.store, site.id, body, ctx.clock())
    except InvalidRule as exc:
        return error_response(ApiError("invalid_request", str(exc)), headers)
    except ApiError as error:
        return error_response(error, headers)
    return Response(status_code=204, headers=headers)


routes = contain_unexpected(
    [
        Route("/v1/sites/{site_id}/prompt-events", prompt_event, methods=["POST"]),
        Route("/v1/sites/{site_id}/prompt-events", preflight, methods=["OPTIONS"]),
    ]
)
