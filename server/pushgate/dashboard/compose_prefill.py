"""`?from=<notification id>`: the composer filled in from one of the site's notifications (what
the notification page's Duplicate button opens). What the form cannot show (a list of ids, a
filter of more than its rows) is named in a note, and the picker left at Everyone."""

from __future__ import annotations

from typing import Any

from pushgate.content.ab_test import AbTest
from pushgate.content.variants import Content
from pushgate.dashboard.compose_ab import LETTERS
from pushgate.dashboard.compose_audience import FILTER_ROWS, TAG_FIELD
from pushgate.dashboard.compose_form import MAX_ACTIONS
from pushgate.durations import describe
from pushgate.store.models import Notification

_MEMBER_TO_FORM = {"title": "title", "body": "body", "navigate": "url", "icon": "icon",
                   "image": "image", "tag": "tag"}  # fmt: skip


def prefilled(values: dict[str, str], notification: Notification) -> tuple[dict[str, str], str]:
    """The form's values taken from `notification`, and a note ("" when all of it fits)."""
    values = dict(values)
    payload = notification.payload
    for member, name in _MEMBER_TO_FORM.items():
        if isinstance(payload.get(member), str):
            values[name] = payload[member]
    for n, action in enumerate((payload.get("actions") or [])[:MAX_ACTIONS], start=1):
        values[f"action{n}_title"] = str(action.get("title", ""))
        values[f"action{n}_url"] = str(action.get("navigate", ""))
    values["urgency"] = notification.urgency or ""
    values["ttl"] = describe(notification.ttl)
    if notification.deliver_at_local:
        values.update(when="local", local_time=notification.deliver_at_local)
    if notification.ab_test:
        _ab_test(values, notification)
    note = _audience(values, notification.audience.to_json())
    return values, note


def _ab_test(values: dict[str, str], notification: Notification) -> None:
    """The test's settings, and variants B to D (A's wording is the form's own, from the first
    variant, whose fields win over the notification's where it set them)."""
    test = AbTest.from_json(notification.ab_test or {})
    values.update(
        ab_enabled="yes",
        ab_sample=str(test.sample_percent),
        ab_winner_after=describe(test.winner_after_seconds),
        ab_metric=test.metric,
    )
    members = Content.from_json(notification.content).ab
    for letter, member in zip(("a", *LETTERS), members, strict=False):
        for name in ("title", "body"):
            text = member.get(name)
            if isinstance(text, str):
                values[name if letter == "a" else f"variant_{letter}_{name}"] = text


def _audience(values: dict[str, str], audience: dict[str, Any]) -> str:
    if "tags" in audience:
        lines = [f"{name}={value}" for name, value in audience["tags"].items()]
        values.update(audience="tags", tags="\n".join(lines))
    elif "segment" in audience:
        values.update(audience="segment", segment=audience["segment"])
    elif "filter" in audience and _filter_rows(values, audience["filter"]):
        values["audience"] = "filter"
    elif "all" not in audience:
        values["audience"] = "everyone"
        return (
            "The original audience (a list of ids, or a filter of more than "
            f"{FILTER_ROWS} plain conditions) cannot be shown here: choose the audience again."
        )
    return ""


def _filter_rows(values: dict[str, str], tree: dict[str, Any]) -> bool:
    """Fill the rows from a leaf, or an and/or of at most FILTER_ROWS leaves; False if not."""
    kind = "and" if "and" in tree else "or" if "or" in tree else None
    leaves = tree[kind] if kind else [tree]
    if len(leaves) > FILTER_ROWS or any("field" not in leaf for leaf in leaves):
        return False
    values["filter_match"] = "any" if kind == "or" else "all"
    for row, leaf in enumerate(leaves, start=1):
        field = str(leaf["field"])
        if field.startswith("tags."):
            values[f"filter{row}_tag"] = field[len("tags.") :]
            field = TAG_FIELD
        values[f"filter{row}_field"] = field
        values[f"filter{row}_op"] = str(leaf["op"])
        value = leaf.get("value")
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        values[f"filter{row}_value"] = "" if shown is None else str(shown)
    return True
