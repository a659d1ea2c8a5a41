"""OpenAPI paths and schemas of the key's own site and its API keys (issues #9 and #13), merged
into openapi.document(). Built from the validators' constants, as openapi_schemas is."""

from __future__ import annotations

from typing import Any

from pushgate import site_profile as profile
from pushgate import site_rules
from pushgate.api.openapi_schemas import TIMESTAMP, TIMEZONE, Schema, obj, or_null, text

_WORDS = {
    "text": or_null(text(profile.MAX_PROMPT_TEXT_LENGTH)),
    "accept": or_null(text(profile.MAX_PROMPT_BUTTON_LENGTH)),
    "dismiss": or_null(text(profile.MAX_PROMPT_BUTTON_LENGTH)),
    "snooze_days": {
        "type": ["integer", "null"],
        "minimum": profile.MIN_SNOOZE_DAYS,
        "maximum": profile.MAX_SNOOZE_DAYS,
    },
}
PROMPT = obj(_WORDS, *profile.PROMPT_NAMES, closed=True) | {
    "description": "The soft prompt's words and snooze in days; null: the snippet's default."
}
PROMPT_PATCH = obj(_WORDS, closed=True) | {
    "description": "Sets the members it names; null resets one to the snippet's default."
}
QUIET_HOURS = obj(
    {
        "start": {"type": "string", "pattern": f"^{site_rules.CLOCK_PATTERN}$"},
        "end": {"type": "string", "pattern": f"^{site_rules.CLOCK_PATTERN}$"},
        "allow_high_urgency": {"type": "boolean"},
    },
    *("start", "end"),
    closed=True,
)
FREQUENCY_CAP = obj(
    {
        "max": {"type": "integer", "minimum": site_rules.MIN_CAP, "maximum": site_rules.MAX_CAP},
        "period": {
            "type": "string",
            "pattern": f"^{site_rules.PERIOD_PATTERN}$",
            "description": 'A number and m, h or d, from "1m" to "30d".',
        },
    },
    *("max", "period"),
    closed=True,
)
SITE_RULES = {
    "default_timezone": {"type": "string", "description": "An IANA time zone name; UTC if unset."},
    "quiet_hours": or_null(QUIET_HOURS),
    "frequency_cap": or_null(FREQUENCY_CAP),
}
ORIGIN = {
    "type": "string",
    "maxLength": 300,
    "description": "scheme://host[:port], stored as browsers send it (lower case, no default "
    "port, no trailing slash); http only on localhost draws a warning",
}
SITE = obj(
    {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "origins": {"type": "array", "items": {"type": "string"}},
        "vapid_public_key": {"type": "string"},
        **SITE_RULES,
        "prompt": PROMPT,
        "created_at": TIMESTAMP,
        "warnings": {
            "type": "array",
            "items": {"type": "string"},
            "description": "PATCH only, when an origin is one browsers will not allow push on.",
        },
    },
    *("id", "name", "origins", "vapid_public_key", *site_rules.RULE_NAMES, "prompt"),
    "created_at",
    closed=True,
)
SITE_PATCH = obj(
    {
        "name": text(profile.MAX_SITE_NAME_LENGTH),
        "origins": {
            "type": "array",
            "items": ORIGIN,
            "minItems": 1,
            "maxItems": profile.MAX_ORIGINS,
            "description": "Replaces the site's origins.",
        },
        "prompt": or_null(PROMPT_PATCH),
        **SITE_RULES,
        "default_timezone": or_null(text(site_rules.MAX_TIMEZONE_LENGTH, pattern=TIMEZONE)),
    },
    closed=True,
)
SITE_CONFIG = obj(
    {
        "site_id": {"type": "string"},
        "vapid_public_key": {"type": "string"},
        "prompt": PROMPT,
        "subscriptions_url": {"type": "string"},
        "events_url": {"type": "string"},
    },
    *("site_id", "vapid_public_key", "prompt", "subscriptions_url", "events_url"),
)
API_KEY = obj(
    {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "created_at": TIMESTAMP,
        "last_used_at": TIMESTAMP | {"type": ["string", "null"]},
    },
    *("id", "name", "created_at", "last_used_at"),
    closed=True,
) | {"description": "last_used_at is written at most once a minute per key."}

SCHEMAS: dict[str, Schema] = {
    "SiteConfig": SITE_CONFIG,
    "Site": SITE,
    "SitePatch": SITE_PATCH,
    "ApiKey": API_KEY,
    "ApiKeyList": obj(
        {"data": {"type": "array", "items": {"$ref": "#/components/schemas/ApiKey"}}}, "data"
    ),
    "ApiKeyRequest": obj({"name": text(profile.MAX_KEY_NAME_LENGTH)}, "name", closed=True),
    "ApiKeyCreated": obj(
        {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "api_key": {"type": "string", "description": "Shown this once; only a hash is kept."},
        },
        *("id", "name", "api_key"),
        closed=True,
    ),
}


def paths() -> dict[str, Any]:
    from pushgate.api import openapi as o  # it imports this module: only its helpers, late

    def authenticated(operation: dict[str, Any]) -> dict[str, Any]:
        operation["security"] = o.BEARER
        operation["responses"] |= o.errors(401, 429)
        return operation

    return {
        "/api/v1/site": {
            "get": authenticated(
                {
                    "summary": "The key's site: name, origins, VAPID key, prompt, delivery rules",
                    "responses": o.answer(200, o.ref("Site")),
                }
            ),
            "patch": authenticated(
                o.body_operation(
                    "Set the site's name, origins, prompt words, default time zone, quiet "
                    "hours or frequency cap (members not named stay; null clears a rule)",
                    "SitePatch",
                    o.answer(200, o.ref("Site")) | o.errors(400, 404, 409, 413),
                )
            ),
        },
        "/api/v1/keys": {
            "get": authenticated(
                {
                    "summary": "The site's API keys: ids, names, times (never a key)",
                    "responses": o.answer(200, o.ref("ApiKeyList")),
                }
            ),
            "post": authenticated(
                o.body_operation(
                    "Make another API key for the site; the answer shows it, once",
                    "ApiKeyRequest",
                    o.answer(201, o.ref("ApiKeyCreated")) | o.errors(400, 413),
                )
            ),
        },
        "/api/v1/keys/{key_id}": {
            "delete": authenticated(
                {
                    "summary": "Revoke an API key: refused with 401 from then on (never the last)",
                    "parameters": [o.path_param("key_id")],
                    "responses": o.answer(204) | o.errors(404, 409),
                }
            )
        },
    }
