"""Request bodies read as I-JSON (RFC 7493): what the gateway accepts, it can store and send back.

Python's `json` module accepts more than RFC 8259 allows: `NaN` and `Infinity`, numbers too big
for a double (`1e999` becomes `inf`), escapes that leave an unpaired surrogate (`"\\ud800"`,
which no UTF-8 encoder can write back), and nesting as deep as the recursion limit. Each of those
once reached the store or a 500; here each is refused before any handler sees the value.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from pushgate.api.text import SURROGATE

MAX_JSON_DEPTH = 32  # nested arrays and objects; a notification's `data` needs a few
_STRUCTURE = re.compile(r'[\[\]{}"\\]')
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class StrictJsonError(ValueError):
    """The body is not I-JSON, or is nested deeper than `MAX_JSON_DEPTH`."""


def loads(raw: bytes) -> Any:
    """Parse `raw` as UTF-8 I-JSON; raise StrictJsonError saying what is wrong."""
    try:
        text = raw.decode("utf-8")  # RFC 8259 §8.1: JSON exchanged between systems is UTF-8
    except UnicodeDecodeError as exc:
        raise StrictJsonError("the body is not UTF-8") from exc
    if _deeper_than(text, MAX_JSON_DEPTH):
        raise StrictJsonError(f"the body nests arrays and objects over {MAX_JSON_DEPTH} deep")
    try:
        value = json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            object_pairs_hook=_unique_keys,
        )
    except StrictJsonError:
        raise
    except ValueError as exc:  # JSONDecodeError, and int() past sys.get_int_max_str_digits()
        raise StrictJsonError(str(exc)) from exc
    if _SURROGATE_ESCAPE.search(text) and _holds_surrogate(value):
        raise StrictJsonError("a string holds an unpaired surrogate (RFC 7493 §2.1)")
    return value


def _deeper_than(text: str, limit: int) -> bool:
    """Whether arrays and objects nest over `limit` deep, without recursing (strings skipped)."""
    depth, in_string, escaped_at = 0, False, -1
    for match in _STRUCTURE.finditer(text):
        char, at = match.group(), match.start()
        if in_string:
            if at == escaped_at:
                continue
            if char == "\\":
                escaped_at = at + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _refuse_constant(name: str) -> Any:
    raise StrictJsonError(f"{name} is not a JSON number (RFC 8259 §6)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise StrictJsonError(f"the number {text[:20]} is too large for a double (RFC 7493 §2.2)")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise StrictJsonError("an object repeats a member name (RFC 7493 §2.3)")
    return value


def _holds_surrogate(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False
