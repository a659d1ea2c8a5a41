"""OpenAPI paths and schemas of what an operator watches (issue #13): a notification's failures
explained, and the Prometheus metrics; merged into openapi.document()."""

from __future__ import annotations

from typing import Any

from pushgate.api.openapi_schemas import Schema, obj
from pushgate.webpush.quirks import PUSH_SERVICES

SCHEMAS: dict[str, Schema] = {
    "FailureGroup": obj(
        {
            "push_service": {"type": "string", "enum": list(PUSH_SERVICES)},
            "status": {
                "type": ["integer", "null"],
                "description": "The push service's HTTP status; 0: no answer; null: never sent",
            },
            "reason": {"type": "string"},
            "count": {"type": "integer", "minimum": 1},
            "explanation": {"type": "string"},
        },
        "push_service",
        "status",
        "reason",
        "count",
        "explanation",
    ),
}
SCHEMAS["FailureGroups"] = obj(
    {"data": {"type": "array", "items": {"$ref": "#/components/schemas/FailureGroup"}}}, "data"
)


def paths() -> dict[str, Any]:
    from pushgate.api import openapi as o  # it imports this module: only its helpers, late

    return {
        "/api/v1/notifications/{notification_id}/failures": {
            "get": {
                "summary": "Why deliveries failed: by push service, status and reason, explained",
                "parameters": [o.path_param("notification_id")],
                "security": o.BEARER,
                "responses": o.answer(200, o.ref("FailureGroups")) | o.errors(401, 404, 429),
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (on PUSHGATE_METRICS_PORT instead, when set)",
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                }
                | o.errors(401),
            }
        },
    }
