"""OpenAPI paths and schemas of soft-prompt variants and prompt events (issue #12 part 6), merged
into openapi.document() after openapi_sites, whose Site, SitePatch and SiteConfig it extends
with `prompt_variants` (and SiteConfig with `prompt_events_url`)."""

from __future__ import annotations

from typing import Any

from pushgate import prompt_variants as pv
from pushgate.api import openapi_sites
from pushgate.api.openapi_schemas import Schema, obj, text
from pushgate.site_profile import MAX_PROMPT_BUTTON_LENGTH, MAX_PROMPT_TEXT_LENGTH

VARIANT_ID = {"type": "string", "pattern": f"^{pv.VARIANT_ID.pattern}$"}
WEIGHT = {"type": "integer", "minimum": pv.MIN_WEIGHT, "maximum": pv.MAX_WEIGHT}
VARIANT = obj(
    {
        "id": VARIANT_ID,
        "text": {"type": ["string", "null"]},
        "accept": {"type": ["string", "null"]},
        "dismiss": {"type": ["string", "null"]},
        "weight": WEIGHT,
    },
    *pv.VARIANT_NAMES,
    closed=True,
) | {"description": 'In the site config, a site without variants has one, "default", of its '
     "prompt's words (null: the snippet's own)."}  # fmt: skip
VARIANT_REQUEST = obj(
    {
        "id": VARIANT_ID
        | {"description": 'Left out: the first free of a, b, c, d, e; not "default"'},
        "text": text(MAX_PROMPT_TEXT_LENGTH),
        "accept": text(MAX_PROMPT_BUTTON_LENGTH) | {"description": 'Left out: "Allow"'},
        "dismiss": text(MAX_PROMPT_BUTTON_LENGTH) | {"description": 'Left out: "Not now"'},
        "weight": WEIGHT | {"description": "Left out: 50"},
    },
    "text",
    closed=True,
)
VARIANTS = {"type": "array", "items": {"$ref": "#/components/schemas/PromptVariant"}}


def _with(schema: Schema, members: dict[str, Schema], *, required: bool) -> Schema:
    extended = schema | {"properties": schema["properties"] | members}
    if required:
        extended["required"] = [*schema.get("required", ()), *members]
    return extended


SCHEMAS: dict[str, Schema] = {
    "PromptVariant": VARIANT,
    "PromptVariantRequest": VARIANT_REQUEST,
    "PromptEventRequest": obj(
        {"event": {"enum": list(pv.PROMPT_EVENTS)}, "variant": VARIANT_ID},
        "event",
        "variant",
        closed=True,
    ),
    "Site": _with(openapi_sites.SITE, {"prompt_variants": VARIANTS}, required=True),
    "SitePatch": _with(
        openapi_sites.SITE_PATCH,
        {
            "prompt_variants": {
                "type": "array",
                "maxItems": pv.MAX_VARIANTS,
                "items": {"$ref": "#/components/schemas/PromptVariantRequest"},
                "description": "Replaces the site's prompt variants; [] goes back to the single "
                "prompt",
            }
        },
        required=False,
    ),
    "SiteConfig": _with(
        openapi_sites.SITE_CONFIG,
        {"prompt_variants": VARIANTS, "prompt_events_url": {"type": "string"}},
        required=True,
    ),
}


def paths() -> dict[str, Any]:
    from pushgate.api import openapi as o  # it imports this module: only its helpers, late

    return {
        "/v1/sites/{site_id}/prompt-events": {
            "post": o.body_operation(
                "Count one event of the soft prompt (shown, accepted, dismissed) or the "
                "browser's answer (granted, denied) for a prompt variant",
                "PromptEventRequest",
                o.answer(204, cors=True) | o.errors(400, 403, 404, 413, 429),
                o.SITE,
                o.origin(required=True),
            ),
            "options": o.preflight(o.SITE),
        }
    }
