"""OpenAPI paths and schemas of the webhook routes (issue #11), merged into openapi.document()."""

from __future__ import annotations

from typing import Any

from pushgate.api.definitions import (
    MAX_DEDUPE_KEY_LENGTH,
    MAX_NAME_LENGTH,
    MAX_SECRET_LENGTH,
    MIN_SECRET_LENGTH,
)
from pushgate.api.openapi_schemas import NOTIFICATION_REQUEST, TIMESTAMP, Schema, obj, text

_DEFINITION = {
    "name": text(MAX_NAME_LENGTH),
    "notification": NOTIFICATION_REQUEST
    | {"description": "A notification request; its strings may be templates over `payload`."},
    "secret": {
        "type": ["string", "null"],
        "minLength": MIN_SECRET_LENGTH,
        "maxLength": MAX_SECRET_LENGTH,
        "description": "Calls must then carry X-Pushgate-Signature: sha256=<hex HMAC-SHA256 of "
        "the raw body>. On PUT: absent keeps the secret, null removes it.",
    },
    "dedupe_key": {
        "type": ["string", "null"],
        "minLength": 1,
        "maxLength": MAX_DEDUPE_KEY_LENGTH,
        "description": "A template; calls whose key renders the same within 7 days send once.",
    },
}
SCHEMAS: dict[str, Schema] = {
    "WebhookRequest": obj(_DEFINITION, "name", "notification", closed=True),
    "Webhook": obj(
        {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "url": {"type": "string", "description": "POST JSON here; the URL is the credential"},
            "notification": {"type": "object"},
            "dedupe_key": {"type": ["string", "null"]},
            "signed": {"type": "boolean"},
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
        *("id", "name", "url", "notification", "dedupe_key", "signed"),
        *("created_at", "updated_at"),
    ),
    "WebhookList": obj(
        {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Webhook"}}}, "data"
    ),
    "WebhookCall": obj({"notification_id": {"type": "string"}}, "notification_id"),
}


def paths() -> dict[str, Any]:
    from pushgate.api import openapi as o  # it imports this module: only its helpers, late

    def authenticated(operation: dict[str, Any]) -> dict[str, Any]:
        operation["security"] = o.BEARER
        operation["responses"] |= o.errors(401, 429)
        return operation

    webhook = o.path_param("webhook_id")
    return {
        "/api/v1/webhooks": {
            "post": authenticated(
                o.body_operation(
                    "Create an incoming webhook; its URL is in the answer",
                    "WebhookRequest",
                    o.answer(201, o.ref("Webhook")) | o.errors(400, 409, 413),
                )
            ),
            "get": authenticated(
                {
                    "summary": "The site's webhooks",
                    "responses": o.answer(200, o.ref("WebhookList")),
                }
            ),
        },
        "/api/v1/webhooks/{webhook_id}": {
            "get": authenticated(
                {
                    "summary": "One webhook",
                    "parameters": [webhook],
                    "responses": o.answer(200, o.ref("Webhook")) | o.errors(404),
                }
            ),
            "put": authenticated(
                o.body_operation(
                    "Replace a webhook's name, notification and dedupe key (the URL stays)",
                    "WebhookRequest",
                    o.answer(200, o.ref("Webhook")) | o.errors(400, 404, 409, 413),
                    webhook,
                )
            ),
            "delete": authenticated(
                {
                    "summary": "Delete a webhook: its URL answers 404 from then on",
                    "parameters": [webhook],
                    "responses": o.answer(204) | o.errors(404),
                }
            ),
        },
        "/hooks/{token}": {
            "post": {
                "summary": "Call a webhook: any JSON object, rendered as `payload`",
                "parameters": [
                    o.path_param("token"),
                    {
                        "name": "X-Pushgate-Signature",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": "sha256=<hex HMAC-SHA256 of the raw body>; required "
                        "when the webhook has a secret",
                    },
                ],
                "requestBody": {"required": True} | o.json_body({"type": "object"}),
                "responses": o.answer(202, o.ref("WebhookCall"))
                | o.answer(200, o.ref("WebhookCall"))
                | o.errors(400, 401, 404, 413, 422, 429),
            }
        },
    }
