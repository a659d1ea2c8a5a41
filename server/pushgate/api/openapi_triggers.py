"""OpenAPI paths and schemas of the trigger and feed routes (issue #11), merged into
openapi.document()."""

from __future__ import annotations

from typing import Any

from pushgate.api.openapi_schemas import NOTIFICATION_REQUEST, TIMESTAMP, Schema, obj, text

DURATION = {"type": "string", "pattern": "^[1-9][0-9]{0,6}[smhd]$"}
EVENT_NAME = {"type": "string", "pattern": "^[a-zA-Z0-9_.-]{1,64}$"}
SEND = NOTIFICATION_REQUEST | {
    "description": "Notification fields; templates read `event` and `subscriber`. No audience: "
    "the run sends to the event's user."
}
_TRIGGER = {
    "name": text(128),
    "when": obj({"event": EVENT_NAME, "filter": {"type": "object"}}, "event", closed=True),
    "delay": DURATION,
    "unless": obj({"event": EVENT_NAME, "within": DURATION}, "event", "within", closed=True),
    "group_by": {"type": "string", "pattern": "^props\\.[A-Za-z0-9_.:-]{1,64}$"},
    "action": {
        "oneOf": [
            obj({"send": SEND}, "send", closed=True),
            obj({"set_tags": {"type": "object", "minProperties": 1}}, "set_tags", closed=True),
        ]
    },
    "enabled": {"type": "boolean"},
}
_FEED = {
    "url": text(2048, pattern="^https?://"),
    "notification": NOTIFICATION_REQUEST
    | {"description": "Templates over `item` (title, link, summary, image, published)."},
    "interval": DURATION,
}
SCHEMAS: dict[str, Schema] = {
    "TriggerRequest": obj(_TRIGGER, "name", "when", "action", closed=True),
    "Trigger": obj(
        {
            "id": {"type": "string"},
            **{k: {} for k in ("name", "when", "delay", "unless", "group_by", "action")},
            "enabled": {"type": "boolean"},
            "stats": obj(
                {k: {"type": "integer"} for k in ("fired", "pending", "cancelled")},
                "fired",
                "pending",
                "cancelled",
            ),
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
        "id",
        "name",
        "when",
        "action",
        "enabled",
        "stats",
    ),  # fmt: skip
    "TriggerList": obj(
        {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Trigger"}}}, "data"
    ),
    "FeedRequest": obj(_FEED, "url", "interval", closed=True),
    "Feed": obj(
        {
            "id": {"type": "string"},
            "url": {"type": "string"},
            "notification": {"type": ["object", "null"]},
            "interval": {"type": "string"},
            "last_poll": {
                "type": ["object", "null"],
                "properties": {
                    "at": TIMESTAMP,
                    "status": {"enum": ["ok", "not_modified", "error"]},
                    "error": {"type": ["string", "null"]},
                },
            },
            "next_poll_at": TIMESTAMP,
            "failures": {"type": "integer"},
            "sent": {"type": "integer"},
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
        "id",
        "url",
        "notification",
        "interval",
        "last_poll",
        "next_poll_at",
    ),  # fmt: skip
    "FeedList": obj(
        {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Feed"}}}, "data"
    ),
}


def _resource(kind: str, noun: str, plural: str) -> dict[str, Any]:
    """POST and GET on the collection, GET, PUT and DELETE on one."""
    from pushgate.api import openapi as o  # it imports this module: only its helpers, late

    def authenticated(operation: dict[str, Any]) -> dict[str, Any]:
        operation["security"] = o.BEARER
        operation["responses"] |= o.errors(401, 429)
        return operation

    one = o.path_param(f"{kind.lower()}_id")
    return {
        f"/api/v1/{plural}": {
            "post": authenticated(
                o.body_operation(
                    f"Create a {noun}",
                    f"{kind}Request",
                    o.answer(201, o.ref(kind)) | o.errors(400, 409, 413),
                )
            ),
            "get": authenticated(
                {
                    "summary": f"The site's {plural}",
                    "responses": o.answer(200, o.ref(f"{kind}List")),
                }
            ),
        },
        f"/api/v1/{plural}/{{{kind.lower()}_id}}": {
            "get": authenticated(
                {
                    "summary": f"One {noun}",
                    "parameters": [one],
                    "responses": o.answer(200, o.ref(kind)) | o.errors(404),
                }
            ),
            "put": authenticated(
                o.body_operation(
                    f"Replace a {noun}",
                    f"{kind}Request",
                    o.answer(200, o.ref(kind)) | o.errors(400, 404, 409, 413),
                    one,
                )
            ),
            "delete": authenticated(
                {
                    "summary": f"Delete a {noun}",
                    "parameters": [one],
                    "responses": o.answer(204) | o.errors(404),
                }
            ),
        },
    }


def paths() -> dict[str, Any]:
    return _resource("Trigger", "trigger", "triggers")


def feed_paths() -> dict[str, Any]:
    return _resource("Feed", "feed", "feeds")
