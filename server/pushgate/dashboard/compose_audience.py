"""The composer's audience picker: Everyone, tags, a saved segment or a filter built in the
form, turned into the `audience` JSON that `POST /api/v1/notifications` takes, checked and
counted by the same functions as `POST /api/v1/audiences/count` (api/segments.py): a parse by
`audience_of`, the segments checked by `checked_audience`, the count by `store.count_audience`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pushgate.api.segments import counted_audience
from pushgate.audience import fields as f
from pushgate.errors import ApiError
from pushgate.store import Store
from pushgate.store.models import Audience

KINDS = ("everyone", "tags", "segment", "filter")
FILTER_ROWS = 3  # conditions the form offers; the API takes up to 200 leaves
TAG_FIELD = "tag"  # the row's field choice meaning "tags.<the row's tag name>"
FILTER_FIELDS = (TAG_FIELD, *f.TEXT_FIELDS, *f.TIME_FIELDS)
FILTER_OPS = f.ALL_OPS
MATCHES = ("all", "any")
_ROW_PATH = re.compile(r"\Aaudience\.filter\.(?:and|or)\[(\d+)\]")
_NUMBER = re.compile(r"\A-?[0-9]+(\.[0-9]+)?\Z")


class AudienceInvalid(Exception):
    """The picker's choice cannot be used: `field` is the form field to show `message` at."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Picked:
    json: dict[str, Any]  # the request's `audience` member
    audience: Audience
    count: int  # subscriptions it holds now


def audience_json(values: dict[str, str]) -> tuple[dict[str, Any], list[int]]:
    """The `audience` JSON of the picker, and which filter rows (1-based) it holds, in order;
    AudienceInvalid for what the form itself can tell is incomplete."""
    kind = values.get("audience") or "everyone"
    if kind == "tags":
        return {"tags": _tags(values.get("tags", ""))}, []
    if kind == "segment":
        if not values.get("segment"):
            raise AudienceInvalid("segment", "Choose a saved segment.")
        return {"segment": values["segment"]}, []
    if kind == "filter":
        return _filter(values)
    if kind != "everyone":
        raise AudienceInvalid("audience", f"Choose one of: {', '.join(KINDS)}.")
    return {"all": True}, []


async def picked_audience(store: Store, site_id: str, values: dict[str, str], now: float) -> Picked:
    """The audience checked and counted by `POST /api/v1/audiences/count`'s own function;
    AudienceInvalid naming the form field when it refuses it."""
    data, rows = audience_json(values)
    try:
        audience, count = await counted_audience(store, site_id, data, now)
    except ApiError as exc:
        raise AudienceInvalid(_field_of(exc.message, data, rows), exc.message) from None
    return Picked(data, audience, count)


def _tags(text: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, equals, value = line.partition("=")
        if not equals or not name.strip():
            raise AudienceInvalid("tags", f"Write each tag as name=value, not {line.strip()!r}.")
        tags[name.strip()] = value.strip()
    if not tags:
        raise AudienceInvalid("tags", "Write at least one tag, as name=value.")
    return tags


def _filter(values: dict[str, str]) -> tuple[dict[str, Any], list[int]]:
    leaves, rows = [], []
    for row in range(1, FILTER_ROWS + 1):
        leaf = _leaf(values, row)
        if leaf is not None:
            leaves.append(leaf)
            rows.append(row)
    if not leaves:
        raise AudienceInvalid("filter1", "Fill in at least one condition.")
    if len(leaves) == 1:
        return {"filter": leaves[0]}, rows
    combinator = "or" if values.get("filter_match") == "any" else "and"
    return {"filter": {combinator: leaves}}, rows


def _leaf(values: dict[str, str], row: int) -> dict[str, Any] | None:
    """A row's condition; None when the row is left empty (no operator chosen)."""
    field = values.get(f"filter{row}_field", "")
    op = values.get(f"filter{row}_op", "")
    text = values.get(f"filter{row}_value", "")
    if not op:
        return None
    if field == TAG_FIELD:
        field = "tags." + values.get(f"filter{row}_tag", "")
    leaf: dict[str, Any] = {"field": field, "op": op}
    if op in f.VALUELESS_OPS:
        return leaf
    if op in f.LIST_OPS:
        leaf["value"] = [_typed(field, op, item.strip()) for item in text.split(",")]
    else:
        leaf["value"] = _typed(field, op, text)
    return leaf


def _typed(field: str, op: str, text: str) -> Any:
    """Tag values compared by order are numbers; everything else is text as typed."""
    if field.startswith("tags.") and op in f.ORDER_OPS and _NUMBER.match(text):
        return float(text) if "." in text else int(text)
    return text


def _field_of(message: str, data: dict[str, Any], rows: list[int]) -> str:
    """The form field an API message is about: `audience.filter.and[1].op` is row rows[1]."""
    if "filter" in data:
        found = _ROW_PATH.match(message)
        if found and int(found[1]) < len(rows):
            return f"filter{rows[int(found[1])]}"
        return f"filter{rows[0]}" if len(rows) == 1 else "filter1"
    if "tags" in data:
        return "tags"
    if "segment" in data:
        return "segment"
    return "audience"
