"""Parse and check a filter's JSON into the typed tree; every error names its path, as in
`audience.filter.and[2].op: unknown operator "equals"`."""

from __future__ import annotations

import functools
import json
import math
import re
import zoneinfo
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pushgate.api.text import TAG_KEY, has_control
from pushgate.audience import fields as f
from pushgate.audience.countries import country_codes
from pushgate.audience.tree import And, Leaf, Node, Not, Or, SegmentRef, leaf_count

MAX_DEPTH = 8
MAX_LEAVES = 200
MAX_IN_VALUES = 10_000
MAX_TEXT = 256  # a tag's string value, an external id
MAX_WITHIN_DAYS = 100 * 366
MIN_NUMBER, MAX_NUMBER = -(2**63), 2**63 - 1  # as tags are stored (a SQLite integer's range)
SEGMENT_NAME = re.compile(r"\A[a-z0-9_-]{1,64}\Z")
LANGUAGE = re.compile(r"\A[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*\Z")  # BCP 47, loosely
RFC3339 = re.compile(
    r"\A\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})\Z"
)
WITHIN = re.compile(r"\A([1-9][0-9]{0,5})([mhd])\Z")
UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}
_COMBINATORS = ("and", "or", "not", "segment")


class FilterError(ValueError):
    """A filter that cannot be used; str() is "path: what is wrong"."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def parse_filter(value: Any, path: str = "audience.filter", *, limits: bool = True) -> Node:
    """The checked tree of a filter's JSON, or FilterError naming the path of the first fault.
    `limits=False` reads a tree stored with its segments inlined, which may pass them."""
    node = _node(value, path, 1 if limits else -(10**6))
    if limits and (count := leaf_count(node)) > MAX_LEAVES:
        raise FilterError(path, f"a filter holds at most {MAX_LEAVES} leaves; this has {count}")
    return node


def segment_name(value: Any, path: str) -> str:
    if not isinstance(value, str) or not SEGMENT_NAME.match(value):
        raise FilterError(path, "a segment name is 1-64 of a-z 0-9 _ -")
    return value


def rfc3339_seconds(text: str) -> float:
    """Seconds since the epoch of a checked RFC 3339 time."""
    return datetime.fromisoformat(text.upper().replace("Z", "+00:00")).timestamp()


def within_seconds(text: str) -> int:
    match = WITHIN.match(text)
    assert match is not None, text
    return int(match[1]) * UNIT_SECONDS[match[2]]


def _node(value: Any, path: str, level: int) -> Node:
    if level > MAX_DEPTH:
        raise FilterError(path, f"filters nest at most {MAX_DEPTH} levels deep")
    if not isinstance(value, dict) or not value:
        raise FilterError(path, "a filter is a JSON object: and, or, not, segment or a leaf")
    found = [k for k in _COMBINATORS if k in value]
    if not found:
        return _leaf(value, path)
    if len(value) != 1:
        raise FilterError(
            path, f"{found[0]} stands alone; other members: {_others(value, found[0])}"
        )
    kind, inner = next(iter(value.items()))
    if kind == "segment":
        return SegmentRef(segment_name(inner, f"{path}.segment"))
    if kind == "not":
        return Not(_node(inner, f"{path}.not", level + 1))
    if not isinstance(inner, list) or not inner:
        raise FilterError(f"{path}.{kind}", "must be a non-empty list of filters")
    nodes = tuple(_node(item, f"{path}.{kind}[{i}]", level + 1) for i, item in enumerate(inner))
    return And(nodes) if kind == "and" else Or(nodes)


def _others(value: dict[str, Any], kind: str) -> str:
    return ", ".join(json.dumps(k) for k in value if k != kind)


def _leaf(value: dict[str, Any], path: str) -> Leaf:
    unknown = [k for k in value if k not in ("field", "op", "value")]
    if unknown:
        raise FilterError(
            f"{path}.{unknown[0]}",
            "unknown member; a filter is {and: [...]}, {or: [...]}, {not: F}, {segment: NAME} "
            "or {field, op, value}",
        )
    field = _field(value.get("field"), f"{path}.field")
    op = value.get("op")
    if not isinstance(op, str) or op not in f.ALL_OPS:
        raise FilterError(f"{path}.op", f"unknown operator {_shown(op)}")
    allowed = f.ops_of(field)
    if op not in allowed:
        what = "tags" if field.startswith("tags.") else field
        raise FilterError(f"{path}.op", f"{what} takes {', '.join(allowed)}, not {_shown(op)}")
    if op in f.VALUELESS_OPS:
        if "value" in value:
            raise FilterError(f"{path}.value", f"{op} takes no value")
        return Leaf(field, op)
    if "value" not in value:
        raise FilterError(f"{path}.value", f"{op} needs a value")
    return Leaf(field, op, _value(field, op, value["value"], f"{path}.value"))


def _field(value: Any, path: str) -> str:
    if isinstance(value, str):
        if value.startswith("tags."):
            if TAG_KEY.match(value[5:]):
                return value
            raise FilterError(path, "a tag name is 1-64 letters, digits or _ . : -")
        if value in f.TEXT_FIELDS or value in f.TIME_FIELDS:
            return value
    raise FilterError(path, f"unknown field {_shown(value)}; use {', '.join(f.FIELDS)}")


def _value(field: str, op: str, value: Any, path: str) -> Any:
    check = _checker(field, op)
    if op not in f.LIST_OPS:
        return check(value, path)
    if not isinstance(value, list) or not 0 < len(value) <= MAX_IN_VALUES:
        raise FilterError(path, f"{op} takes a list of 1-{MAX_IN_VALUES} values")
    return tuple(check(item, f"{path}[{i}]") for i, item in enumerate(value))


def _checker(field: str, op: str) -> Callable[[Any, str], Any]:
    if field.startswith("tags."):
        return _number if op in f.ORDER_OPS else _tag_value
    if field in f.TIME_FIELDS:
        return _duration if op == "within" else _time
    return _TEXT_CHECKS[field]


def _tag_value(value: Any, path: str) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return _number(value, path)
    if isinstance(value, str) and len(value) <= MAX_TEXT and not has_control(value):
        return value
    raise FilterError(
        path, f"a tag value is a string of at most {MAX_TEXT} characters, a number or a boolean"
    )


def _number(value: Any, path: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FilterError(path, "must be a number")
    if not math.isfinite(value) or not MIN_NUMBER <= value <= MAX_NUMBER:
        raise FilterError(path, "must be a finite number from -2^63 to 2^63-1")
    return value


def _time(value: Any, path: str) -> str:
    if isinstance(value, str) and RFC3339.match(value):
        try:
            rfc3339_seconds(value)
            return value
        except ValueError:
            pass
    raise FilterError(path, "must be an RFC 3339 time with an offset: 2026-05-01T08:00:00Z")


def _duration(value: Any, path: str) -> str:
    match = WITHIN.match(value) if isinstance(value, str) else None
    if match is None or within_seconds(value) > MAX_WITHIN_DAYS * 86400:
        raise FilterError(path, 'within takes a whole number and m, h or d: "30m", "12h", "7d"')
    return str(value)


def _language(value: Any, path: str) -> str:
    if isinstance(value, str) and LANGUAGE.match(value) and len(value) <= 35:
        return value
    raise FilterError(path, f"{_shown(value)} is not a BCP 47 language tag (en, en-GB)")


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _timezone(value: Any, path: str) -> str:
    if isinstance(value, str) and value in _zones():
        return value
    raise FilterError(path, f"{_shown(value)} is not an IANA time zone name")


def _country(value: Any, path: str) -> str:
    if isinstance(value, str) and value.upper() in country_codes():
        return value.upper()
    raise FilterError(path, f"{_shown(value)} is not an ISO 3166-1 alpha-2 country code")


def _enum(values: tuple[str, ...]) -> Callable[[Any, str], str]:
    def check(value: Any, path: str) -> str:
        if isinstance(value, str) and value in values:
            return value
        raise FilterError(path, f"{_shown(value)} is not one of {', '.join(values)}")

    return check


def _external_id(value: Any, path: str) -> str:
    if isinstance(value, str) and 0 < len(value) <= MAX_TEXT and not has_control(value):
        return value
    raise FilterError(path, f"an external id is a string of 1-{MAX_TEXT} characters")


_TEXT_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "language": _language,
    "timezone": _timezone,
    "country": _country,
    "browser": _enum(f.BROWSERS),
    "push_service": _enum(f.PUSH_SERVICES),
    "external_id": _external_id,
}


def _shown(value: Any) -> str:
    """A value as JSON, cut short: error messages quote what was sent."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
