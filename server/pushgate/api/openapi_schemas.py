"""JSON Schemas (2020-12, as OpenAPI 3.1 uses) of the request and response bodies.

Built from the validators' own constants, so a limit changed in the code changes here too.
Patterns are ECMA-262 regular expressions, where `$` matches only at the end of the input.
"""

from __future__ import annotations

from typing import Any

from pushgate.api import ab_request as ab
from pushgate.api import notification_request as notif
from pushgate.api import schedule_options as sched
from pushgate.api import validation as v
from pushgate.api.notification_service import ESTIMATE_MAX_SUBSCRIPTIONS
from pushgate.api.strict_json import MAX_JSON_DEPTH
from pushgate.audience import fields as audience_fields
from pushgate.audience import parse as audience_parse
from pushgate.content import ab_test
from pushgate.durations import DURATION
from pushgate.errors import ERROR_CODES
from pushgate.scheduling.throttle import MAX_PER_MINUTE, MIN_PER_MINUTE
from pushgate.webpush.allowlist import MAX_ENDPOINT_LENGTH

Schema = dict[str, Any]

NO_CONTROLS = r"^[^\u0000-\u001f\u007f-\u009f]*$"
NO_CONTROLS_BUT_LINES = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
HTTP_URL = (
    r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\u0000-\u0020\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
)
TAG_NAME = r"^[A-Za-z0-9_.:-]{1,64}$"
LANGUAGE = r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$"
TIMEZONE = r"^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$"
BASE64URL = r"^[A-Za-z0-9_-]+={0,2}$"
TOPIC = r"^[A-Za-z0-9_-]{1,32}$"
ONE_MORE_THAN_A_MULTIPLE_OF_4 = r"^(....)*.$"
EVENT_TYPES = ["delivered", "clicked", "dismissed"]
TIMESTAMP = {"type": "string", "description": "ISO 8601, UTC, milliseconds"}


def text(max_length: int, *, pattern: str = NO_CONTROLS, nullable: bool = False) -> Schema:
    """A non-empty string without control characters, as `validation.checked_str` wants."""
    schema = {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": pattern}
    return or_null(schema) if nullable else schema


def or_null(schema: Schema) -> Schema:
    """The same schema, also allowing null (an absent field and null mean the same)."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return schema | {"type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: dict[str, Schema], *required: str, closed: bool = False) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


def url(nullable: bool = True) -> Schema:
    return text(v.MAX_URL_LENGTH, pattern=HTTP_URL, nullable=nullable)


TAG_VALUE: Schema = {
    "anyOf": [
        {"type": "string", "maxLength": v.MAX_TAG_VALUE, "pattern": NO_CONTROLS},
        {"type": "number", "minimum": v.MIN_TAG_NUMBER, "maximum": v.MAX_TAG_NUMBER},
        {"type": "boolean"},
    ]
}


def tags(min_properties: int = 0, *, deletes: bool = False) -> Schema:
    """An object of tags; with `deletes`, a change to merge where null deletes a tag."""
    return {
        "type": "object",
        "minProperties": min_properties,
        "maxProperties": v.MAX_TAG_CHANGES if deletes else v.MAX_TAGS,
        "propertyNames": {"pattern": TAG_NAME},
        "additionalProperties": or_null(TAG_VALUE) if deletes else TAG_VALUE,
    }


def ids() -> Schema:
    return {
        "type": "array",
        "minItems": 1,
        "maxItems": v.MAX_AUDIENCE_IDS,
        "items": text(v.MAX_ID_LENGTH),
    }


ERROR = obj(
    {
        "error": obj(
            {
                "code": {"type": "string", "enum": sorted(ERROR_CODES)},
                "message": {"type": "string"},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
            },
            "code",
            "message",
            "status",
            closed=True,
        )
    },
    "error",
    closed=True,
)

SUBSCRIPTION_REQUEST = obj(
    {
        "subscription": obj(
            {
                "endpoint": text(MAX_ENDPOINT_LENGTH),
                "expirationTime": {"type": ["number", "null"]},
                "keys": obj(
                    {
                        "p256dh": text(v.MAX_KEY_LENGTH, pattern=BASE64URL),
                        "auth": text(v.MAX_KEY_LENGTH, pattern=BASE64URL),
                    },
                    "p256dh",
                    "auth",
                ),
            },
            "endpoint",
            "keys",
        ),
        "timezone": text(v.MAX_TIMEZONE_LENGTH, pattern=TIMEZONE, nullable=True),
        "language": text(v.MAX_LANGUAGE_LENGTH, pattern=LANGUAGE, nullable=True),
        "tags": or_null(tags()),
        "external_id": text(v.MAX_ID_LENGTH, nullable=True),
        "old_endpoint": text(MAX_ENDPOINT_LENGTH, nullable=True),
    },
    "subscription",
)

UNSUBSCRIBE_REQUEST = obj({"endpoint": text(MAX_ENDPOINT_LENGTH)}, "endpoint")

EVENT_REQUEST = obj(
    {
        "token": {"type": "string"},
        "type": {"type": "string", "enum": EVENT_TYPES},
        "action": {"type": ["string", "null"], "maxLength": 64, "pattern": NO_CONTROLS},
    },
    "token",
    "type",
)

SEGMENT_NAME = r"^[a-z0-9_-]{1,64}$"
# Nested filters are plain objects here: the schemas stand alone (no $ref), and the parser
# checks the tree to its leaves, naming the path of any fault.
NESTED_FILTER: Schema = {"type": "object", "minProperties": 1}
FILTER_LIST: Schema = {"type": "array", "minItems": 1, "items": NESTED_FILTER}
FILTER: Schema = {
    "description": f"A filter tree: at most {audience_parse.MAX_DEPTH} levels deep and "
    f"{audience_parse.MAX_LEAVES} leaves, with its segments inlined. See the README's Filters.",
    "oneOf": [
        obj({"and": FILTER_LIST}, "and", closed=True),
        obj({"or": FILTER_LIST}, "or", closed=True),
        obj({"not": NESTED_FILTER}, "not", closed=True),
        obj({"segment": {"type": "string", "pattern": SEGMENT_NAME}}, "segment", closed=True),
        obj(
            {
                "field": {
                    "type": "string",
                    "pattern": "^(tags[.][A-Za-z0-9_.:-]{1,64}|"
                    + "|".join(audience_fields.TEXT_FIELDS + audience_fields.TIME_FIELDS)
                    + ")$",
                },
                "op": {"enum": list(audience_fields.ALL_OPS)},
                "value": {"description": "Absent for exists and not_exists; a list for in"},
            },
            "field",
            "op",
            closed=True,
        ),
    ],
}

AUDIENCE_FORMS: list[Schema] = [
    obj({"all": {"const": True}}, "all", closed=True),
    obj({"tags": tags(min_properties=1)}, "tags", closed=True),
    obj({"external_ids": ids()}, "external_ids", closed=True),
    obj({"subscription_ids": ids()}, "subscription_ids", closed=True),
    obj({"filter": FILTER}, "filter", closed=True),
    obj({"segment": {"type": "string", "pattern": SEGMENT_NAME}}, "segment", closed=True),
]
AUDIENCE = or_null({"oneOf": AUDIENCE_FORMS})

SEGMENT_REQUEST = obj(
    {
        "name": {"type": "string", "pattern": SEGMENT_NAME},
        "filter": FILTER,
        "description": text(1000, pattern=NO_CONTROLS_BUT_LINES, nullable=True),
    },
    "name",
    "filter",
    closed=True,
)
SEGMENT_REPLACEMENT = obj(
    {
        "name": {"type": "string", "pattern": SEGMENT_NAME, "description": "the same, if given"},
        "filter": FILTER,
        "description": text(1000, pattern=NO_CONTROLS_BUT_LINES, nullable=True),
    },
    "filter",
    closed=True,
)
SEGMENT = obj(
    {
        "name": {"type": "string"},
        "filter": FILTER,
        "description": {"type": ["string", "null"]},
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
        "count": {"type": "integer", "minimum": 0, "description": "GET of one segment only"},
    },
    *("name", "filter", "description", "created_at", "updated_at"),
)
SEGMENT_PAGE = obj(
    {
        "data": {"type": "array", "items": SEGMENT},
        "next_cursor": {"type": ["string", "null"]},
    },
    "data",
    "next_cursor",
)
AUDIENCE_COUNT_REQUEST = obj({"audience": {"oneOf": AUDIENCE_FORMS}}, "audience", closed=True)
AUDIENCE_COUNT = obj({"count": {"type": "integer", "minimum": 0}}, "count", closed=True)

ACTION = obj(
    {
        "action": text(notif.MAX_ACTION_LENGTH),
        "title": text(notif.MAX_ACTION_LENGTH),
        "url": url(),
    },
    "action",
    "title",
)

CONTENT_FIELDS: dict[str, Schema] = {
    "title": text(notif.MAX_TITLE_LENGTH),
    "body": text(notif.MAX_BODY_LENGTH, pattern=NO_CONTROLS_BUT_LINES, nullable=True),
    "url": url(),
    "icon": url(),
    "image": url(),
    "badge": url(),
    "actions": {"type": ["array", "null"], "maxItems": notif.MAX_ACTIONS, "items": ACTION},
    "data": {
        "type": ["object", "null"],
        "description": f"Any JSON object; the whole body nests at most {MAX_JSON_DEPTH} deep.",
    },
}

AB_VARIANTS = {
    "type": "array",
    "minItems": ab_test.MIN_VARIANTS,
    "maxItems": ab_test.MAX_VARIANTS,
    "items": obj({name: CONTENT_FIELDS[name] for name in ab.VARIANT_FIELDS}, closed=True),
    "description": "A message A/B test's variants (needs ab_test): each the content fields it "
    "changes over the notification's own. Not with localized or deliver_at_local.",
}

AB_TEST = obj(
    {
        "sample_percent": {
            "type": "integer",
            "minimum": ab_test.MIN_SAMPLE_PERCENT,
            "maximum": ab_test.MAX_SAMPLE_PERCENT,
            "description": "The share of the audience sent the variants at once, split evenly "
            "and at random across them.",
        },
        "winner_after": {
            "type": "string",
            "pattern": DURATION.pattern.replace(r"\A", "^").replace(r"\Z", "$"),
            "description": "From 10s to 7d after the start: then the variant with the best "
            "metric per accepted message (the first on a tie) goes to the rest.",
        },
        "metric": {"enum": list(ab_test.METRICS), "default": ab.DEFAULT_METRIC},
    },
    "sample_percent",
    "winner_after",
    closed=True,
)

NOTIFICATION_REQUEST = obj(
    {
        **CONTENT_FIELDS,
        "tag": text(notif.MAX_TAG_LENGTH, nullable=True),
        "lang": text(v.MAX_LANGUAGE_LENGTH, pattern=LANGUAGE, nullable=True),
        "renotify": {"type": ["boolean", "null"]},
        "require_interaction": {"type": ["boolean", "null"]},
        "silent": {"type": ["boolean", "null"]},
        "audience": AUDIENCE,
        "ttl": {"type": "integer", "minimum": 1, "maximum": notif.MAX_TTL_SECONDS},
        "urgency": {"enum": [*notif.URGENCIES, None]},
        "topic": or_null(
            {
                "type": "string",
                "pattern": TOPIC,
                "not": {"pattern": ONE_MORE_THAN_A_MULTIPLE_OF_4},
            }
        ),
        "send_at": {
            "type": ["string", "null"],
            "pattern": f"^{sched.RFC3339_PATTERN}$",
            "description": "RFC 3339 with an offset; at most 30 days ahead, at most 1 minute past.",
        },
        "deliver_at_local": {
            "type": ["string", "null"],
            "pattern": f"^{sched.CLOCK_PATTERN}$",
            "description": "HH:MM in each subscriber's time zone (the site's default if none).",
        },
        "throttle_per_minute": {
            "type": ["integer", "null"],
            "minimum": MIN_PER_MINUTE,
            "maximum": MAX_PER_MINUTE,
        },
        "ignore_quiet_hours": {"type": ["boolean", "null"]},
        "ignore_frequency_cap": {"type": ["boolean", "null"]},
        "localized": {
            "type": ["object", "null"],
            "maxProperties": 50,
            "propertyNames": {"pattern": LANGUAGE},
            "additionalProperties": {"type": "object"},
            "description": "Per language (BCP 47): fields over the default ones; a subscriber "
            "gets its exact tag, else its primary language, else the default.",
        },
        "variants": AB_VARIANTS,
        "ab_test": AB_TEST,
    },
    "title",
) | {
    # Browsers refuse `renotify` without a tag.
    "if": obj({"renotify": {"const": True}}, "renotify"),
    "then": obj({"tag": {"type": "string"}}, "tag"),
    "dependentRequired": {"variants": ["ab_test"], "ab_test": ["variants"]},
}

SUBSCRIPTION = obj(
    {
        "id": {"type": "string"},
        "endpoint": {"type": "string"},
        "created_at": TIMESTAMP,
        "last_seen_at": TIMESTAMP,
        "tags": {
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        },
        "timezone": {"type": ["string", "null"]},
        "language": {"type": ["string", "null"]},
        "external_id": {"type": ["string", "null"]},
        "browser": {"type": ["string", "null"]},
    },
    *("id", "endpoint", "created_at", "last_seen_at", "tags"),
    *("timezone", "language", "external_id", "browser"),
)

SUBSCRIPTION_PATCH = obj(
    {
        "tags": or_null(tags(deletes=True)),
        "external_id": text(v.MAX_ID_LENGTH, nullable=True),
        "timezone": text(v.MAX_TIMEZONE_LENGTH, pattern=TIMEZONE, nullable=True),
        "language": text(v.MAX_LANGUAGE_LENGTH, pattern=LANGUAGE, nullable=True),
    },
    closed=True,
)

USER_PATCH = obj({"tags": tags(deletes=True)}, "tags", closed=True)

USER_UPDATED = obj(
    {"external_id": {"type": "string"}, "updated": {"type": "integer", "minimum": 1}},
    "external_id",
    "updated",
    closed=True,
)

SUBSCRIPTION_PAGE = obj(
    {
        "data": {"type": "array", "items": {"$ref": "#/components/schemas/Subscription"}},
        "next_cursor": {"type": ["string", "null"], "pattern": "^[0-9]+$"},
    },
    "data",
    "next_cursor",
)

COUNTS = obj(
    {
        name: {"type": "integer", "minimum": 0}
        for name in ("targeted", "accepted", "failed", "gone", "pending", "capped", "cancelled")
        + ("delivered", "clicked", "dismissed")
    },
    *("targeted", "accepted", "failed", "gone", "pending", "capped", "cancelled"),
    *("delivered", "clicked", "dismissed"),
)

NOTIFICATION = obj(
    {
        "id": {"type": "string"},
        "status": {
            "type": "string",
            "enum": ["scheduled", "queued", "sending", "done", "failed", "cancelled"],
        },
        "created_at": TIMESTAMP,
        "audience": {"type": "object"},
        "ttl": {"type": "integer"},
        "urgency": {"type": ["string", "null"]},
        "topic": {"type": ["string", "null"]},
        "notification": obj({"title": {"type": "string"}}, "title"),
        "localized": {"type": "object", "additionalProperties": {"type": "object"}},
        "counts": {"$ref": "#/components/schemas/Counts"},
        "error": {"type": ["string", "null"], "description": "Why delivery failed as a whole"},
        "send_at": {"type": ["string", "null"], "description": "ISO 8601, UTC, milliseconds"},
        "deliver_at_local": {"type": ["string", "null"]},
        "throttle_per_minute": {"type": ["integer", "null"]},
        "ignore_quiet_hours": {"type": "boolean"},
        "ignore_frequency_cap": {"type": "boolean"},
        "ab_test": or_null(
            obj(
                {
                    "sample_percent": {"type": "integer"},
                    "winner_after": {"type": "string"},
                    "metric": {"enum": list(ab_test.METRICS)},
                },
                "sample_percent",
                "winner_after",
                "metric",
            )
        ),
        "variants": {
            "type": "array",
            "description": "The A/B test's variants in the order given (empty without a "
            "test): each its whole message and, in GET of one notification, its counts.",
            "items": obj(
                {
                    "notification": {"type": "object"},
                    "counts": {"$ref": "#/components/schemas/Counts"},
                },
                "notification",
            ),
        },
        "winner": {
            "type": ["integer", "null"],
            "description": "The winning variant's index; null until chosen (or without a test)",
        },
    },
    *("id", "status", "created_at", "audience", "ttl", "urgency", "topic"),
    *("notification", "counts"),
)

NOTIFICATION_PAGE = obj(
    {
        "data": {"type": "array", "items": {"$ref": "#/components/schemas/Notification"}},
        "next_cursor": {"type": ["string", "null"], "pattern": "^[0-9]+$"},
    },
    "data",
    "next_cursor",
)

NOTIFICATION_CREATED = obj(
    {
        "id": {"type": "string"},
        "status": {"type": "string"},
        "targeted_estimate": {
            "type": "integer",
            "minimum": 0,
            "description": "Subscribers in the audience now, as POST /api/v1/audiences/count "
            "counts them; absent where counting is not cheap: on a site of over "
            f"{ESTIMATE_MAX_SUBSCRIPTIONS:,} subscribers, unless the audience lists ids. 0: the "
            "send reaches nobody.",
        },
        "warnings": {
            "type": "array",
            "description": "Present only when there is one.",
            "items": obj(
                {"code": {"enum": ["payload_large"]}, "message": {"type": "string"}},
                "code",
                "message",
                closed=True,
            ),
        },
    },
    "id",
    "status",
    closed=True,
)

HEALTH = obj({"status": {"const": "ok"}, "version": {"type": "string"}}, "status", "version")

SCHEMAS: dict[str, Schema] = {
    "Error": ERROR,
    "SubscriptionRequest": SUBSCRIPTION_REQUEST,
    "UnsubscribeRequest": UNSUBSCRIBE_REQUEST,
    "EventRequest": EVENT_REQUEST,
    "NotificationRequest": NOTIFICATION_REQUEST,
    "Subscription": SUBSCRIPTION,
    "SubscriptionPatch": SUBSCRIPTION_PATCH,
    "UserPatch": USER_PATCH,
    "UserUpdated": USER_UPDATED,
    "SubscriptionPage": SUBSCRIPTION_PAGE,
    "Counts": COUNTS,
    "Notification": NOTIFICATION,
    "NotificationCreated": NOTIFICATION_CREATED,
    "NotificationPage": NOTIFICATION_PAGE,
    "Health": HEALTH,
    "Filter": FILTER,
    "SegmentRequest": SEGMENT_REQUEST,
    "SegmentReplacement": SEGMENT_REPLACEMENT,
    "Segment": SEGMENT,
    "SegmentPage": SEGMENT_PAGE,
    "AudienceCountRequest": AUDIENCE_COUNT_REQUEST,
    "AudienceCount": AUDIENCE_COUNT,
}
