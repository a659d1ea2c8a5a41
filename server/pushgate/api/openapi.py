"""`GET /openapi.json`: an OpenAPI 3.1 description of the whole HTTP API.

tests/api/test_openapi.py keeps its paths and methods equal to the app's routes, and
tests/api/test_openapi_fuzz.py runs every operation with generated requests (schemathesis).
"""

from __future__ import annotations

import functools
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pushgate import __version__
from pushgate.api import (
    notification_control,
    openapi_event_hooks,
    openapi_events,
    openapi_observability,
    openapi_prompt,
    openapi_sites,
    openapi_stats,
    openapi_triggers,
    openapi_webhooks,
)
from pushgate.api.admin import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from pushgate.api.openapi_schemas import SCHEMAS, Schema
from pushgate.api.validation import MAX_CURSOR
from pushgate.errors import ERROR_CODES

Operation = dict[str, Any]

STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Invalid request",
    401: "Missing or wrong API key",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Body too large",
    422: "The data does not render the notification",
    429: "Rate limited",
    500: "Unexpected error (the log has the details, under the request id)",
    503: "Database unavailable",
}
CORS_HEADERS = ("Access-Control-Allow-Origin", "Access-Control-Allow-Methods")


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: Schema) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def errors(*statuses: int) -> dict[str, Any]:
    """Error answers, each in the one error shape; every route may also answer 500 and 503."""
    return {
        str(status): {"description": STATUS_TEXT[status]} | json_body(ref("Error"))
        for status in (*statuses, 500, 503)
    }


def answer(status: int, schema: Schema | None = None, *, cors: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {"description": STATUS_TEXT[status]}
    if schema is not None:
        response |= json_body(schema)
    if cors:
        response["headers"] = {name: {"schema": {"type": "string"}} for name in CORS_HEADERS}
    return {str(status): response}


def path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def origin(required: bool) -> dict[str, Any]:
    return {
        "name": "Origin",
        "in": "header",
        "required": required,
        "description": "One of the site's registered origins.",
        "schema": {"type": "string"},
    }


SITE = path_param("site_id")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": r"^[\x21-\x7e]{1,255}$"},
}
LIMIT = {
    "name": "limit",
    "in": "query",
    "required": False,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
    "description": f"Subscriptions per page; default {DEFAULT_PAGE_SIZE}.",
}
CURSOR = {
    "name": "cursor",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"},
    "description": f"The previous page's next_cursor (at most {MAX_CURSOR}).",
}
SEGMENT_CURSOR = {
    "name": "cursor",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "pattern": "^[a-z0-9_-]{1,64}$"},
    "description": "The previous page's next_cursor: the last segment name it held.",
}


STATUS = {
    "name": "status",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "enum": list(notification_control.STATUSES)},
    "description": "Only notifications with this status.",
}


def preflight(*params: dict[str, Any]) -> Operation:
    return {
        "summary": "CORS preflight",
        "parameters": [*params, origin(required=True)],
        "responses": answer(204, cors=True) | errors(403, 404),
    }


def body_operation(
    summary: str, schema: str, responses: dict[str, Any], *params: dict[str, Any]
) -> Operation:
    return {
        "summary": summary,
        "parameters": list(params),
        "requestBody": {"required": True} | json_body(ref(schema)),
        "responses": responses,
    }


def browser_paths() -> dict[str, Any]:
    site_params = (SITE, origin(required=True))
    return {
        "/v1/sites/{site_id}/config": {
            "get": {
                "summary": "The site's VAPID key, prompt text and URLs (for the snippet)",
                "parameters": [SITE, origin(required=False)],
                "responses": answer(200, ref("SiteConfig"), cors=True) | errors(403, 404),
            },
            "options": preflight(SITE),
        },
        "/v1/sites/{site_id}/subscriptions": {
            "post": body_operation(
                "Subscribe a browser, or refresh its subscription",
                "SubscriptionRequest",
                answer(200, ref("Subscription"), cors=True)
                | answer(201, ref("Subscription"), cors=True)
                | errors(400, 403, 404, 413, 429),
                *site_params,
            ),
            "delete": body_operation(
                "Unsubscribe an endpoint",
                "UnsubscribeRequest",
                answer(204, cors=True) | errors(400, 403, 404, 413, 429),
                *site_params,
            ),
            "options": preflight(SITE),
        },
        "/v1/events": {
            "post": body_operation(
                "Report delivered, clicked or dismissed (the service worker)",
                "EventRequest",
                answer(204) | errors(400, 403, 409, 413, 429),
                origin(required=False),
            ),
            "options": preflight(),
        },
    }


def admin_paths() -> dict[str, Any]:
    def authenticated(operation: Operation) -> Operation:
        operation["security"] = BEARER
        operation["responses"] |= errors(401, 429)
        return operation

    return {
        "/api/v1/notifications": {
            "post": authenticated(
                body_operation(
                    "Send a notification; delivery runs in the background",
                    "NotificationRequest",
                    answer(202, ref("NotificationCreated")) | errors(400, 409, 413),
                    IDEMPOTENCY_KEY,
                )
            ),
            "get": authenticated(
                {
                    "summary": "The site's notifications (of one status), a page at a time",
                    "parameters": [STATUS, LIMIT, CURSOR],
                    "responses": answer(200, ref("NotificationPage")) | errors(400),
                }
            ),
        },
        "/api/v1/notifications/{notification_id}/cancel": {
            "post": authenticated(
                {
                    "summary": "Cancel: nothing not yet handed to a push service goes out",
                    "parameters": [path_param("notification_id")],
                    "responses": answer(200, ref("Notification")) | errors(404, 409),
                }
            )
        },
        "/api/v1/notifications/{notification_id}": {
            "get": authenticated(
                {
                    "summary": "A notification's status and counts",
                    "parameters": [path_param("notification_id")],
                    "responses": answer(200, ref("Notification")) | errors(404),
                }
            )
        },
        "/api/v1/subscriptions": {
            "get": authenticated(
                {
                    "summary": "The site's subscriptions, a page at a time",
                    "parameters": [LIMIT, CURSOR],
                    "responses": answer(200, ref("SubscriptionPage")) | errors(400),
                }
            )
        },
        "/api/v1/subscriptions/{subscription_id}": {
            "delete": authenticated(
                {
                    "summary": "Delete a subscription",
                    "parameters": [path_param("subscription_id")],
                    "responses": answer(204) | errors(404),
                }
            ),
            "patch": authenticated(
                body_operation(
                    "Merge tags into a subscription (null deletes one); set its external id, "
                    "time zone or language",
                    "SubscriptionPatch",
                    answer(200, ref("Subscription")) | errors(400, 404, 413),
                    path_param("subscription_id"),
                )
            ),
        },
        "/api/v1/segments": {
            "post": authenticated(
                body_operation(
                    "Save a filter under a name",
                    "SegmentRequest",
                    answer(201, ref("Segment")) | errors(400, 409, 413),
                )
            ),
            "get": authenticated(
                {
                    "summary": "The site's segments in name order, a page at a time",
                    "parameters": [LIMIT, SEGMENT_CURSOR],
                    "responses": answer(200, ref("SegmentPage")) | errors(400),
                }
            ),
        },
        "/api/v1/segments/{name}": {
            "get": authenticated(
                {
                    "summary": "A segment with its current count",
                    "parameters": [path_param("name")],
                    "responses": answer(200, ref("Segment")) | errors(404),
                }
            ),
            "put": authenticated(
                body_operation(
                    "Replace a segment's filter and description",
                    "SegmentReplacement",
                    answer(200, ref("Segment")) | errors(400, 404, 413),
                    path_param("name"),
                )
            ),
            "delete": authenticated(
                {
                    "summary": "Delete a segment no segment or unfinished notification uses",
                    "parameters": [path_param("name")],
                    "responses": answer(204) | errors(404, 409),
                }
            ),
        },
        "/api/v1/audiences/count": {
            "post": authenticated(
                body_operation(
                    "How many subscriptions an audience holds now, exactly",
                    "AudienceCountRequest",
                    answer(200, ref("AudienceCount")) | errors(400, 413),
                )
            )
        },
        "/api/v1/users/{external_id}": {
            "patch": authenticated(
                body_operation(
                    "Merge tags into every subscription of one external id (null deletes one)",
                    "UserPatch",
                    answer(200, ref("UserUpdated")) | errors(400, 404, 413),
                    path_param("external_id"),
                )
            )
        },
    }


def html_page() -> dict[str, Any]:
    return {"200": {"description": "OK", "content": {"text/html": {"schema": {}}}}}


def service_paths() -> dict[str, Any]:
    return {
        "/": {
            "get": {
                "summary": "The home page: version, health, sites, docs, the embed snippet",
                "responses": html_page() | errors(),
            }
        },
        "/docs/": {"get": {"summary": "The README, as HTML", "responses": html_page() | errors()}},
        "/docs/{name}": {
            "get": {
                "summary": "One of docs/*.md, as HTML",
                "parameters": [path_param("name")],
                "responses": html_page() | errors(404),
            }
        },
        "/docs/screenshots/{name}": {
            "get": {
                "summary": "A screenshot the docs show (docs/screenshots/*.png)",
                "parameters": [path_param("name")],
                "responses": {
                    "200": {"description": "OK", "content": {"image/png": {"schema": {}}}}
                }
                | errors(404),
            }
        },
        "/favicon.ico": {
            "get": {
                "summary": "The icon",
                "responses": {
                    "200": {"description": "OK", "content": {"image/x-icon": {"schema": {}}}}
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "200 when the database is reachable (for load balancers)",
                "responses": answer(200, ref("Health")) | errors(),
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": answer(200, {"type": "object"}),
            }
        },
    }


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document, built once."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pushgate",
            "version": __version__,
            "description": "A self-hosted Web Push gateway. Every error has the shape "
            '{"error": {"code", "message", "status"}}; the codes: ' + ", ".join(ERROR_CODES),
        },
        "paths": service_paths()
        | browser_paths()
        | admin_paths()
        | openapi_events.paths()
        | openapi_event_hooks.paths()
        | openapi_webhooks.paths()
        | openapi_triggers.paths()
        | openapi_triggers.feed_paths()
        | openapi_sites.paths()
        | openapi_observability.paths()
        | openapi_prompt.paths()
        | openapi_stats.paths(),
        "components": {
            "schemas": SCHEMAS
            | openapi_events.SCHEMAS
            | openapi_event_hooks.SCHEMAS
            | openapi_webhooks.SCHEMAS
            | openapi_triggers.SCHEMAS
            | openapi_sites.SCHEMAS
            | openapi_observability.SCHEMAS
            | openapi_prompt.SCHEMAS  # after openapi_sites: extends its site schemas
            | openapi_stats.SCHEMAS,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The site's API key",
                }
            },
        },
    }


async def openapi_json(request: Request) -> Response:
    return JSONResponse(document())
