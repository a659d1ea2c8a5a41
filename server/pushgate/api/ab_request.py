"""`variants` and `ab_test` of `POST /api/v1/notifications`: a message A/B test's shape.

Each variant is an object of the content fields it changes (VARIANT_FIELDS); the rest comes
from the notification's own fields, and every field is checked by the same validators as at
the top level (content_of builds each variant's member). `variants` without `ab_test`, or
the other way round, is refused, as are variants with `localized` or `deliver_at_local`.
"""

from __future__ import annotations

from typing import Any

from pushgate.api.validation import invalid, require_object
from pushgate.content.ab_test import (
    MAX_SAMPLE_PERCENT,
    MAX_VARIANTS,
    MAX_WINNER_AFTER_SECONDS,
    METRICS,
    MIN_SAMPLE_PERCENT,
    MIN_VARIANTS,
    MIN_WINNER_AFTER_SECONDS,
    AbTest,
)
from pushgate.durations import InvalidDuration, duration_seconds

# What a variant may change: what the reader sees and where a click leads. Not tag, lang or
# the display flags: those are the notification's, the same for every variant.
VARIANT_FIELDS = ("title", "body", "url", "icon", "image", "badge", "actions", "data")
AB_TEST_FIELDS = ("sample_percent", "winner_after", "metric")
DEFAULT_METRIC = "clicked"


def variant_fields(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's variants (checked for shape; their fields are checked as members)."""
    value = data.get("variants")
    if value is None:
        return []
    if not isinstance(value, list) or not MIN_VARIANTS <= len(value) <= MAX_VARIANTS:
        raise invalid(f"variants must be a list of {MIN_VARIANTS} to {MAX_VARIANTS} objects")
    variants = []
    for index, item in enumerate(value):
        fields = require_object(item, f"variants[{index}]")
        unknown = sorted(set(fields) - set(VARIANT_FIELDS))
        if unknown:
            raise invalid(
                f"variants[{index}]: {unknown[0]!r} cannot differ between variants; a variant "
                f"may set {', '.join(VARIANT_FIELDS)}"
            )
        variants.append(fields)
    return variants


def ab_test_of(data: dict[str, Any]) -> AbTest | None:
    """The request's A/B test; None without `variants` and `ab_test`."""
    variants, value = variant_fields(data), data.get("ab_test")
    if not variants and value is None:
        return None
    if not variants:
        raise invalid(f"ab_test needs variants: {MIN_VARIANTS} to {MAX_VARIANTS} of them")
    if value is None:
        raise invalid(
            'variants need an ab_test: {"sample_percent": 20, "winner_after": "1h", '
            '"metric": "clicked"}'
        )
    if data.get("localized") is not None:
        raise invalid("variants cannot be combined with localized (one kind of variant)")
    if data.get("deliver_at_local") is not None:
        raise invalid("variants cannot be combined with deliver_at_local")
    return _ab_test(require_object(value, "ab_test"), len(variants))


def _ab_test(value: dict[str, Any], variants: int) -> AbTest:
    unknown = sorted(set(value) - set(AB_TEST_FIELDS))
    if unknown:
        raise invalid(f"ab_test: unknown field {unknown[0]!r}")
    percent = value.get("sample_percent")
    if (
        isinstance(percent, bool)
        or not isinstance(percent, int)
        or not MIN_SAMPLE_PERCENT <= percent <= MAX_SAMPLE_PERCENT
    ):
        raise invalid(
            f"ab_test.sample_percent must be a whole number from {MIN_SAMPLE_PERCENT} to "
            f"{MAX_SAMPLE_PERCENT}"
        )
    try:
        seconds = duration_seconds(
            value.get("winner_after"),
            "ab_test.winner_after",
            MIN_WINNER_AFTER_SECONDS,
            MAX_WINNER_AFTER_SECONDS,
        )
    except InvalidDuration as exc:
        raise invalid(str(exc)) from None
    metric = value.get("metric", DEFAULT_METRIC)
    if metric not in METRICS:
        raise invalid(
            f"ab_test.metric must be one of {', '.join(METRICS)} (the variant with the most "
            "of them per accepted message wins)"
        )
    return AbTest(percent, seconds, metric, variants)
