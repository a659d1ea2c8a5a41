"""OpenAPI paths and schemas of the event-hook routes (issue #12 part 8), merged into
openapi.document()."""

from __future__ import annotations

from typing import Any

from pushgate.api.openapi_schemas import TIMESTAMP, Schema, obj
from pushgate.hooks_out.model import EVENT_TYPES, MAX_SECRET_CHARS, MAX_URL_CHARS, MIN_SECRET_CHARS

_EVENTS = {
    "type": "array",
    "minItems": 1,
    "uniqueItems": True,
    "items": {"type": "string", "enum": list(EVENT_TYPES)},
}
SCHEMAS: dict[str, Schema] = {
    "EventHookRequest": obj(
        {
            "url": {
                "type": "string",
                "maxLength": MAX_URL_CHARS,
                "description": "An https URL on the public internet; batches are POSTed here",
            },
            "events": _EVENTS,
            "secret": {
                "type": "string",
                "minLength": MIN_SECRET_CHARS,
                "maxLength": MAX_SECRET_CHARS,
                "description": "Printable ASCII. Each batch carries X-Pushgate-Signature: "
                "sha256=<hex HMAC-SHA256 of the raw body with this secret>. Never shown again.",
            },
        },
        *("url", "events", "secret"),
        closed=True,
    ),
    "EventHook": obj(
        {
            "id": {"type": "string"},
            "url": {"type": "string"},
            "events": _EVENTS,
            "created_at": TIMESTAMP,
            "failing": {"type": "boolean", "description": "the last attempt failed"},
            "next_attempt_at": TIMESTAMP | {"type": ["string", "null"]},
            "dropped_events": {"type": "integer", "description": "given up after 24 h"},
        },
        *("id", "url", "events", "created_at", "failing", "next_attempt_at", "dropped_events"),
    ),
    "EventHookAttempt": obj(
        {
            "at": TIMESTAMP,
            "status": {"type": ["integer", "null"], "description": "the receiver's HTTP status"},
            "error": {"type": ["string", "null"]},
            "events": {"type": "integer"},
        },
        *("at", "status", "error", "events"),
    ),
    "EventHookList": obj(
        {"data": {"type": "array", "items": {"$ref": "#/components/schemas/EventHook"}}}, "data"
    ),
}
SCHEMAS["EventHookDetail"] = {
    "allOf": [
        {"$ref": "#/components/schemas/EventHook"},
        obj(
            {
                "attempts": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/EventHookAttempt"},
                }
            },
            "attempts",
        ),
    ]
}


def paths() -> dict[str, Any]:
    from pushgate.api import openapi as o  # it imports this module: only its helpers, late

    def authenticated(operation: dict[str, Any]) -> dict[str, Any]:
        operation["security"] = o.BEARER
        operation["responses"] |= o.errors(401, 429)
        return operation

    hook = o.path_param("hook_id")
    return {
        "/api/v1/event-hooks": {
            "post": authenticated(
                o.body_operation(
                    "Create an event hook: the site's events are POSTed to its URL in batches",
                    "EventHookRequest",
                    o.answer(201, o.ref("EventHook")) | o.errors(400, 413),
                )
            ),
            "get": authenticated(
                {
                    "summary": "The site's event hooks",
                    "responses": o.answer(200, o.ref("EventHookList")),
                }
            ),
        },
        "/api/v1/event-hooks/{hook_id}": {
            "get": authenticated(
                {
                    "summary": "One event hook and its latest attempts, the newest first",
                    "parameters": [hook],
                    "responses": o.answer(200, o.ref("EventHookDetail")) | o.errors(404),
                }
            ),
            "delete": authenticated(
                {
                    "summary": "Delete an event hook and the events waiting for it",
                    "parameters": [hook],
                    "responses": o.answer(204) | o.errors(404),
                }
            ),
        },
    }
