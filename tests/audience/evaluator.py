"""An independent evaluator of filter JSON, written from issue #9's rules, over test rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.audience.conftest import Row

UNITS = {"m": 60, "h": 3600, "d": 86400}


def zone_countries() -> dict[str, str]:
    # Read here from tzdata's zone.tab itself, not through pushgate.
    from importlib import resources

    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text()
    rows = [line.split("\t") for line in text.splitlines() if line and line[0] != "#"]
    return {row[2]: row[0] for row in rows}


ZONE_COUNTRIES = zone_countries()


def matches(f: dict[str, Any], row: Row, now: float) -> bool:
    if "and" in f:
        return all(matches(c, row, now) for c in f["and"])
    if "or" in f:
        return any(matches(c, row, now) for c in f["or"])
    if "not" in f:
        return not matches(f["not"], row, now)
    return _leaf(f["field"], f["op"], f.get("value"), row, now)


def _present(field: str, row: Row) -> tuple[bool, Any]:
    if field.startswith("tags."):
        name = field[5:]
        return name in row.tags, row.tags.get(name)
    if field == "country":
        value = row.country or ZONE_COUNTRIES.get(row.timezone or "")
        return value is not None, value
    value = getattr(row, field)
    return value is not None, value


def _same(a: Any, b: Any) -> bool:
    """JSON equality: type and value; numbers are one type; booleans are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _equal(field: str, stored: Any, wanted: Any) -> bool:
    if field == "language":
        if "-" in wanted:
            return bool(stored.lower() == wanted.lower())
        return bool(stored.lower().split("-")[0] == wanted.lower())
    return _same(stored, wanted)


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _leaf(field: str, op: str, value: Any, row: Row, now: float) -> bool:
    present, stored = _present(field, row)
    if op == "not_exists":
        return not present
    if not present:
        return False
    if op == "exists":
        return True
    if op in ("eq", "ne"):
        return _equal(field, stored, value) == (op == "eq")
    if op in ("in", "not_in"):
        return any(_equal(field, stored, v) for v in value) == (op == "in")
    if op == "within":
        return bool(stored >= now - int(value[:-1]) * UNITS[value[-1]])
    if field in ("created_at", "last_seen_at"):
        value = _seconds(value)
    elif isinstance(stored, bool) or not isinstance(stored, int | float):
        return False
    return {
        "gt": stored > value,
        "gte": stored >= value,
        "lt": stored < value,
        "lte": stored <= value,
    }[op]
