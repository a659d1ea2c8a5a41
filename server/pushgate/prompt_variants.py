"""Soft-prompt variants and prompt events (issue #12 part 6): the rules, one place for the API
(`PATCH /api/v1/site`, `POST /v1/sites/{id}/prompt-events`, the site config) and the dashboard.

A site has up to four variants, each a text, an accept and a dismiss label and a weight; each
browser picks one by weight once and keeps it (the snippet does that). A site without variants
has one, "default", made of its single prompt's words. Events are counted per UTC day, site,
variant and event: one upsert each, never a row per event.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pushgate.site_profile import MAX_PROMPT_BUTTON_LENGTH, MAX_PROMPT_TEXT_LENGTH
from pushgate.site_rules import InvalidRule
from pushgate.store.base import Store
from pushgate.store.models import Site
from pushgate.store.prompt_rows import PromptVariant

PROMPT_EVENTS = ("shown", "accepted", "dismissed", "granted", "denied")
MAX_VARIANTS = 4
MIN_WEIGHT, MAX_WEIGHT = 1, 100
DEFAULT_VARIANT_ID = "default"  # a site without variants: its single prompt
DEFAULT_ACCEPT, DEFAULT_DISMISS = "Allow", "Not now"  # the snippet's own labels
VARIANT_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
FREE_IDS = ("a", "b", "c", "d", "e")  # ids given to variants sent without one
VARIANT_NAMES = ("id", "text", "accept", "dismiss", "weight")
EVENT_NAMES = ("event", "variant")


def _words(value: Any, path: str, max_length: int, default: str | None) -> str:
    if value is None and default is not None:
        return default
    if not isinstance(value, str) or not value.strip():
        raise InvalidRule(path, "must be non-empty text")
    if len(value) > max_length or not value.isprintable():
        raise InvalidRule(path, f"must be at most {max_length} printable characters")
    return value.strip()


def _weight(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRule(path, f"must be a whole number from {MIN_WEIGHT} to {MAX_WEIGHT}")
    if not MIN_WEIGHT <= value <= MAX_WEIGHT:
        raise InvalidRule(path, f"must be from {MIN_WEIGHT} to {MAX_WEIGHT}")
    return value


def _variant_id(value: Any, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not VARIANT_ID.fullmatch(value):
        raise InvalidRule(path, "must be 1 to 32 of a-z 0-9 _ - (starting with a letter or digit)")
    if value == DEFAULT_VARIANT_ID:
        raise InvalidRule(path, f"may not be {DEFAULT_VARIANT_ID!r}: that names the single prompt")
    return value


def variant_of(value: Any, path: str) -> tuple[str | None, PromptVariant]:
    """One variant as sent (its id may be left out: given later); accept and dismiss default to
    the snippet's own labels, weight to 50."""
    if not isinstance(value, dict):
        raise InvalidRule(path, 'must be {"id"?, "text", "accept"?, "dismiss"?, "weight"?}')
    unknown = sorted(set(value) - set(VARIANT_NAMES))
    if unknown:
        raise InvalidRule(
            f"{path}.{unknown[0]}", f"is not known; this takes {', '.join(VARIANT_NAMES)}"
        )
    given_id = _variant_id(value.get("id"), f"{path}.id")
    variant = PromptVariant(
        id=given_id or "",
        text=_words(value.get("text"), f"{path}.text", MAX_PROMPT_TEXT_LENGTH, None),
        accept_label=_words(
            value.get("accept"), f"{path}.accept", MAX_PROMPT_BUTTON_LENGTH, DEFAULT_ACCEPT
        ),
        dismiss_label=_words(
            value.get("dismiss"), f"{path}.dismiss", MAX_PROMPT_BUTTON_LENGTH, DEFAULT_DISMISS
        ),
        weight=_weight(value.get("weight", 50), f"{path}.weight"),
    )
    return given_id, variant


def variants_of(value: Any, path: str = "prompt_variants") -> list[PromptVariant]:
    """The `prompt_variants` member: a list of 0 to 4 variants (empty: the single prompt), ids
    unique; a variant without an id gets the first of a, b, c, d, e not taken."""
    if not isinstance(value, list):
        raise InvalidRule(path, "must be a list of up to 4 variants (empty: the single prompt)")
    if len(value) > MAX_VARIANTS:
        raise InvalidRule(path, f"may hold at most {MAX_VARIANTS} variants")
    parsed = [variant_of(item, f"{path}[{index}]") for index, item in enumerate(value)]
    taken: set[str] = set()
    for index, (given_id, _) in enumerate(parsed):
        if given_id is not None and given_id in taken:
            raise InvalidRule(f"{path}[{index}].id", f"repeats {given_id!r}: ids are unique")
        taken.add(given_id or "")
    free = iter(i for i in FREE_IDS if i not in taken)
    return [
        PromptVariant(given_id or next(free), v.text, v.accept_label, v.dismiss_label, v.weight)
        for given_id, v in parsed
    ]


def variant_json(variant: PromptVariant) -> dict[str, Any]:
    return {
        "id": variant.id,
        "text": variant.text,
        "accept": variant.accept_label,
        "dismiss": variant.dismiss_label,
        "weight": variant.weight,
    }


def served_variants(site: Site, variants: Sequence[PromptVariant]) -> list[dict[str, Any]]:
    """The variants the site config serves: the site's, or its single prompt as "default"
    (words null: the snippet's own)."""
    if variants:
        return [variant_json(v) for v in variants]
    return [
        {
            "id": DEFAULT_VARIANT_ID,
            "text": site.prompt_text,
            "accept": site.prompt_accept,
            "dismiss": site.prompt_dismiss,
            "weight": MAX_WEIGHT,
        }
    ]


def variant_ids(variants: Sequence[PromptVariant]) -> list[str]:
    """The ids events may name: the variants', or "default" when there are none."""
    return [v.id for v in variants] or [DEFAULT_VARIANT_ID]


def day_of(now: float) -> str:
    """The UTC day a counter of time `now` belongs to, YYYY-MM-DD."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def prompt_event_of(body: Any) -> tuple[str, str]:
    """(event, variant id) of a `POST /v1/sites/{id}/prompt-events` body."""
    if not isinstance(body, dict):
        raise InvalidRule("body", 'must be {"event", "variant"}')
    unknown = sorted(set(body) - set(EVENT_NAMES))
    if unknown:
        raise InvalidRule(unknown[0], f"is not known; this takes {', '.join(EVENT_NAMES)}")
    event, variant = body.get("event"), body.get("variant")
    if event not in PROMPT_EVENTS:
        raise InvalidRule("event", f"must be one of {', '.join(PROMPT_EVENTS)}")
    if not isinstance(variant, str):
        raise InvalidRule("variant", "must be the id of one of the site's prompt variants")
    return str(event), variant


async def record_prompt_event(store: Store, site_id: str, body: Any, now: float) -> None:
    """Count one prompt event; InvalidRule for an unknown event or variant (nothing counted)."""
    event, variant = prompt_event_of(body)
    known = variant_ids(await store.prompt_variants(site_id))
    if variant not in known:
        raise InvalidRule(
            "variant", f"{variant[:40]!r} is not one of this site's: {', '.join(known)}"
        )
    await store.count_prompt_event(site_id, day_of(now), variant, event)


async def set_variants(store: Store, site_id: str, value: Any) -> list[PromptVariant]:
    """Replace the site's variants with those `value` holds, all checked first."""
    variants = variants_of(value)
    await store.set_prompt_variants(site_id, variants)
    return variants
