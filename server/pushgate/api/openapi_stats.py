"""OpenAPI paths and schemas of the stats API and the CSV exports (issue #12 part 9), merged
into openapi.document()."""

from __future__ import annotations

from typing import Any

from pushgate.api.openapi_schemas import Schema, obj
from pushgate.store.stats_rows import DELIVERY_COUNTS

COUNT = {"type": "integer"}
BUCKET_START = {"type": "string", "description": "ISO 8601 UTC start of the bucket"}
SCHEMAS: dict[str, Schema] = {
    "SubscriberPoint": obj(
        {
            "t": BUCKET_START,
            "new": COUNT,
            "unsubscribed": COUNT,
            "gone": COUNT,
            "net": COUNT,
            "total": COUNT,
        },
        "t",
        "new",
        "unsubscribed",
        "gone",
        "net",
        "total",
    ),  # fmt: skip
    "NotificationPoint": obj({"t": BUCKET_START} | {n: COUNT for n in DELIVERY_COUNTS}, "t"),
}
for _point in ("SubscriberPoint", "NotificationPoint"):
    SCHEMAS[_point.replace("Point", "Series")] = obj(
        {
            "interval": {"type": "string", "enum": ["day", "hour"]},
            "series": {"type": "array", "items": {"$ref": f"#/components/schemas/{_point}"}},
        },
        "interval",
        "series",
    )

RANGE = [
    {
        "name": "from",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "ISO 8601 date or time (UTC unless it has an offset); default: 30 days "
        "or 24 hours before `to`.",
    },
    {
        "name": "to",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "ISO 8601 date or time; default: now. Rounded up to a whole bucket.",
    },
    {
        "name": "interval",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": ["day", "hour"]},
        "description": "Bucket width; day (default, at most 732 buckets) or hour (at most 744; "
        "hourly roll-ups are kept for PUSHGATE_DELIVERY_RETENTION).",
    },
]


def paths() -> dict[str, Any]:
    from pushgate.api import openapi as o  # it imports this module: only its helpers, late

    def series(summary: str, schema: str) -> dict[str, Any]:
        return {
            "get": {
                "summary": summary,
                "parameters": RANGE,
                "security": o.BEARER,
                "responses": o.answer(200, o.ref(schema)) | o.errors(400, 401, 429),
            }
        }

    def export(summary: str) -> dict[str, Any]:
        csv = {"text/csv": {"schema": {"type": "string"}}}
        return {
            "get": {
                "summary": summary,
                "security": o.BEARER,
                "responses": {"200": {"description": "OK", "content": csv}} | o.errors(401, 429),
            }
        }

    return {
        "/api/v1/stats/subscribers": series(
            "Subscribers per day or hour: new, unsubscribed, gone, net, running total",
            "SubscriberSeries",
        ),
        "/api/v1/stats/notifications": series(
            "Delivery outcomes and browser events per day or hour", "NotificationSeries"
        ),
        "/api/v1/notifications.csv": export("The site's notifications and counters as CSV"),
        "/api/v1/subscriptions.csv": export("The site's subscriptions as CSV"),
    }
