"""The composer's optional A/B test (issue #12 part 7): variant A is the form's own title and
body, B (and optionally C and D) another title and body; the sample's percent, when the winner
is chosen and by what. It becomes the `variants` and `ab_test` members of `POST
/api/v1/notifications`, checked by the API's own validators (api/ab_request.py)."""

from __future__ import annotations

import re
from typing import Any

from pushgate.content.ab_test import MAX_SAMPLE_PERCENT, METRICS, MIN_SAMPLE_PERCENT
from pushgate.content.fields import MAX_BODY_LENGTH, MAX_TITLE_LENGTH

LETTERS = ("b", "c", "d")  # A is the notification's own title and body
ENABLED = "ab_enabled"
LIMITS = {
    **{f"variant_{x}_title": MAX_TITLE_LENGTH + 1 for x in LETTERS},
    **{f"variant_{x}_body": MAX_BODY_LENGTH + 1 for x in LETTERS},
}
NAMES = (ENABLED, "ab_sample", "ab_winner_after", "ab_metric", *LIMITS)
DEFAULTS = {"ab_sample": "20", "ab_winner_after": "1h", "ab_metric": METRICS[0]}
_VARIANT = re.compile(r"\Avariants\[(\d+)\]")
_AB_FIELD = {
    "sample_percent": "ab_sample",
    "winner_after": "ab_winner_after",
    "metric": "ab_metric",
}


def ab_body(values: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    """`variants` and `ab_test` when the test is on (else nothing); form-level errors added."""
    if values.get(ENABLED) != "yes":
        return {}
    variants: list[dict[str, Any]] = [{}]  # A: the notification's own fields
    for letter in LETTERS:
        fields = {
            name: values[f"variant_{letter}_{name}"]
            for name in ("title", "body")
            if values.get(f"variant_{letter}_{name}")
        }
        if fields:
            variants.append(fields)
        elif letter == "b":
            errors["variant_b_title"] = "Variant B needs its own title or body."
    percent = values.get("ab_sample", "")
    if not (percent.isascii() and percent.isdigit() and len(percent) <= 3):
        low, high = MIN_SAMPLE_PERCENT, MAX_SAMPLE_PERCENT
        errors["ab_sample"] = f"Write the sample as a whole percent from {low} to {high}."
        return {}
    test = {"sample_percent": int(percent), "winner_after": values.get("ab_winner_after", "")}
    return {
        "variants": variants,
        "ab_test": test | {"metric": values.get("ab_metric") or "clicked"},
    }


def ab_field_of(message: str, used: list[str]) -> str | None:
    """The form field an API message about the test is about; None when it is not about it.
    `used`: the letters of the variants sent after A, in order."""
    found = _VARIANT.match(message)
    if found:
        index = int(found[1])
        letter = used[index - 1] if 0 < index <= len(used) else "b"
        return f"variant_{letter}_body" if "body" in message else f"variant_{letter}_title"
    if message.startswith("ab_test."):
        return _AB_FIELD.get(message[len("ab_test.") :].split(" ")[0], "ab_sample")
    if message.startswith(("variants", "ab_test")):
        return ENABLED
    return None


def used_letters(values: dict[str, str]) -> list[str]:
    return [
        x for x in LETTERS if values.get(f"variant_{x}_title") or values.get(f"variant_{x}_body")
    ]
