"""OpenAPI paths and schemas of the tracked-event routes (issue #11), merged into
openapi.document()."""

from __future__ import annotations

from typing import Any

from pushgate.api.openapi_schemas import TAG_NAME, TAG_VALUE, TIMESTAMP, Schema, obj, text

EVENT_NAME = {"type": "string", "pattern": "^[a-zA-Z0-9_.-]{1,64}$"}
PROPS = {
    "type": "object",
    "maxProperties": 50,
    "propertyNames": {"pattern": TAG_NAME},
    "additionalProperties": TAG_VALUE,
}
SCHEMAS: dict[str, Schema] = {
    "TrackedEventRequest": obj(
        {
            "name": EVENT_NAME,
            "external_id": text(256),
            "subscription_id": text(256),
            "props": PROPS,
            "occurred_at": {"type": "string", "description": "RFC 3339 with an offset"},
            "id": text(256),
        },
        "name",
        closed=True,
    )
    | {"oneOf": [{"required": ["external_id"]}, {"required": ["subscription_id"]}]},
    "TrackedEvent": obj(
        {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "external_id": {"type": ["string", "null"]},
            "subscription_id": {"type": ["string", "null"]},
            "props": {"type": "object"},
            "occurred_at": TIMESTAMP,
            "received_at": TIMESTAMP,
        },
        "id",
        "name",
        "external_id",
        "subscription_id",
        "props",
        "occurred_at",
        "received_at",
    ),  # fmt: skip
    "TrackRequest": obj(
        {"endpoint": text(2048), "name": EVENT_NAME, "props": PROPS},
        "endpoint",
        "name",
        closed=True,
    ),
    "Tracked": obj({"id": {"type": "string"}}, "id"),
}


def paths() -> dict[str, Any]:
    from pushgate.api import openapi as o  # it imports this module: only its helpers, late

    admin = o.body_operation(
        "Record an event of a user or a subscription (triggers act on it); the same id again "
        "is ignored",
        "TrackedEventRequest",
        o.answer(202, o.ref("TrackedEvent"))
        | o.answer(200, o.ref("TrackedEvent"))
        | o.errors(400, 401, 404, 413, 429),
    )
    admin["security"] = o.BEARER
    return {
        "/api/v1/events": {"post": admin},
        "/v1/sites/{site_id}/track": {
            "post": o.body_operation(
                "Record an event of this browser's subscriber (pushgate.track)",
                "TrackRequest",
                o.answer(202, o.ref("Tracked"), cors=True) | o.errors(400, 403, 404, 413, 429),
                o.SITE,
                o.origin(required=True),
            ),
            "options": o.preflight(o.SITE),
        },
    }
