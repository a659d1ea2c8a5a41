"""Triggers' rules, pure: a definition checked into a `TriggerRule`, and what one tracked event
does to the rule's runs (`RunStart`, `RunCancel`).

- A `when` event whose event and subscriber match the filter starts a run, due after `delay`.
- With `group_by` ("props.cart_id"), a `when` event of the same user and group value restarts
  the pending run's delay instead of starting another; without it, each event has its run.
- An `unless` event of the same user (and group value, with group_by; any group when the event
  has none) cancels the pending runs that started at most `within` before it and are not due.
- A user is the event's external id (or its subscription's), else that one subscription.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pushgate.api.render import iso
from pushgate.audience.fields import TEXT_FIELDS, TIME_FIELDS
from pushgate.audience.parse import FilterError, parse_filter, rfc3339_seconds, within_seconds
from pushgate.audience.tree import And, Leaf, Node, Not, Or, SegmentRef
from pushgate.durations import InvalidDuration, duration_seconds
from pushgate.store.automation_models import PendingEvent, RunCancel, RunStart
from pushgate.store.models import SubscriberProfile

EVENT_NAME = re.compile(r"\A[a-zA-Z0-9_.-]{1,64}\Z")
GROUP_BY = re.compile(r"\Aprops\.[A-Za-z0-9_.:-]{1,64}\Z")
MAX_DELAY_SECONDS = 30 * 86400
MAX_DEPTH = 8
# What a trigger filter may read of the subscriber: its profile (what templates read too).
SUBSCRIBER_FIELDS = (*TEXT_FIELDS, *TIME_FIELDS)
MISSING = object()


class RuleError(ValueError):
    """A definition that cannot be stored; str() names the field."""


@dataclass(frozen=True)
class TriggerRule:
    trigger_id: str
    when_event: str
    when_filter: Node | None
    delay: int
    unless_event: str | None
    within: int
    group_by: str | None  # the prop's name

    @property
    def reads_subscriber(self) -> bool:
        return self.when_filter is not None and _reads_subscriber(self.when_filter)

    def changes(
        self, event: PendingEvent, profiles: Sequence[SubscriberProfile]
    ) -> list[RunStart | RunCancel]:
        user = user_key(event)
        if user is None:
            return []
        found: list[RunStart | RunCancel] = []
        if event.name == self.unless_event:
            group = _group_value(self.group_by, event) if self.group_by else None
            found.append(RunCancel(self.trigger_id, user, group, event.occurred_at, self.within))
        if event.name == self.when_event and self._matches(event, profiles):
            found.append(self._start(event, user))
        return found

    def _matches(self, event: PendingEvent, profiles: Sequence[SubscriberProfile]) -> bool:
        if self.when_filter is None:
            return True
        if not self.reads_subscriber:
            return evaluate(self.when_filter, event, None)
        return any(evaluate(self.when_filter, event, profile) for profile in profiles)

    def _start(self, event: PendingEvent, user: str) -> RunStart:
        if self.group_by:
            group = _group_value(self.group_by, event) or "null"  # no such prop: one group
        else:
            group = f"event:{event.key}"  # each event its own run
        return RunStart(
            self.trigger_id,
            user,
            group,
            {"event": event_variables(event), "audience": audience_of(event)},
            event.occurred_at,
            event.occurred_at + self.delay,
            restart=self.group_by is not None,
        )


def user_key(event: PendingEvent) -> str | None:
    if event.external_id is not None:
        return f"user:{event.external_id}"
    if event.subscription_key is not None:
        return f"subscription:{event.subscription_key}"
    return None


def audience_of(event: PendingEvent) -> dict[str, Any]:
    """Who a run of this event sends to: the user's subscriptions, or the one browser's."""
    if event.external_id is not None:
        return {"external_ids": [event.external_id]}
    return {"subscription_ids": [event.subscription_id or "gone"]}


def event_variables(event: PendingEvent) -> dict[str, Any]:
    return {"name": event.name, "props": event.props, "occurred_at": iso(event.occurred_at)}


def _group_value(group_by: str | None, event: PendingEvent) -> str | None:
    """The group as JSON (typed: 5 and "5" differ); None when the event has no such prop."""
    if group_by is None or group_by not in event.props:
        return None
    return json.dumps(event.props[group_by])


# --- the definition -----------------------------------------------------------------------


def rule_of(trigger_id: str, definition: dict[str, Any]) -> TriggerRule:
    """A stored (checked) definition as a rule."""
    when = definition["when"]
    unless = definition.get("unless") or {}
    group_by = definition.get("group_by")
    filter_json = when.get("filter")
    return TriggerRule(
        trigger_id,
        when["event"],
        None if filter_json is None else trigger_filter(filter_json, "when.filter"),
        _seconds(definition.get("delay"), "delay", 0),
        unless.get("event"),
        _seconds(unless.get("within"), "unless.within", 0),
        None if group_by is None else group_by.removeprefix("props."),
    )


def check_rule(definition: dict[str, Any]) -> None:
    """RuleError naming the field unless `when`, `delay`, `unless` and `group_by` are right."""
    when = definition.get("when")
    if not isinstance(when, dict) or set(when) - {"event", "filter"}:
        raise RuleError('when must be {"event": NAME, "filter"?: F}')
    _event_name(when.get("event"), "when.event")
    if when.get("filter") is not None:
        trigger_filter(when["filter"], "when.filter")
    if definition.get("delay") is not None:
        _seconds(definition["delay"], "delay", 1)
    unless = definition.get("unless")
    if unless is not None:
        if not isinstance(unless, dict) or set(unless) != {"event", "within"}:
            raise RuleError('unless must be {"event": NAME, "within": "1h"}')
        _event_name(unless["event"], "unless.event")
        _seconds(unless["within"], "unless.within", 1)
    group_by = definition.get("group_by")
    if group_by is not None and (not isinstance(group_by, str) or not GROUP_BY.match(group_by)):
        raise RuleError('group_by must name an event prop: "props.cart_id"')


def _event_name(value: Any, name: str) -> str:
    if not isinstance(value, str) or not EVENT_NAME.match(value):
        raise RuleError(f"{name} must be an event name: 1-64 of a-z A-Z 0-9 _ . -")
    return value


def _seconds(value: Any, name: str, minimum: int) -> int:
    if value is None:
        return 0
    try:
        return duration_seconds(value, name, minimum, MAX_DELAY_SECONDS)
    except InvalidDuration as exc:
        raise RuleError(str(exc)) from None


def trigger_filter(value: Any, path: str, level: int = 1) -> Node:
    """A filter over `event.name`, `event.props.NAME` and the subscriber's fields (tags,
    language, timezone, country, browser, push_service, external_id, created_at, last_seen_at);
    not segments."""
    if level > MAX_DEPTH:
        raise RuleError(f"{path}: filters nest at most {MAX_DEPTH} levels deep")
    if not isinstance(value, dict) or not value:
        raise RuleError(f"{path}: a filter is a JSON object: and, or, not or a leaf")
    if "segment" in value:
        raise RuleError(f"{path}: a trigger's filter cannot use a segment")
    for kind in ("and", "or"):
        if kind in value:
            items = value[kind]
            if len(value) != 1 or not isinstance(items, list) or not items:
                raise RuleError(f"{path}.{kind}: must stand alone, a non-empty list of filters")
            nodes = tuple(
                trigger_filter(item, f"{path}.{kind}[{i}]", level + 1)
                for i, item in enumerate(items)
            )
            return And(nodes) if kind == "and" else Or(nodes)
    if "not" in value:
        if len(value) != 1:
            raise RuleError(f"{path}.not: must stand alone")
        return Not(trigger_filter(value["not"], f"{path}.not", level + 1))
    return _trigger_leaf(value, path)


def _trigger_leaf(value: dict[str, Any], path: str) -> Leaf:
    field = value.get("field")
    if not isinstance(field, str):
        raise RuleError(f"{path}.field: a leaf is {{field, op, value}}")
    if field == "event.name" or field.startswith("event.props."):
        # Checked as a tag is: the same operators, the same typed values.
        name = "name" if field == "event.name" else field.removeprefix("event.props.")
        stand_in = value | {"field": f"tags.{name}"}
        return Leaf(field, *_parsed(stand_in, path)[1:])
    if not field.startswith("tags.") and field not in SUBSCRIBER_FIELDS:
        raise RuleError(
            f"{path}.field: a trigger's filter reads event.name, event.props.NAME, tags.NAME, "
            f"{', '.join(SUBSCRIBER_FIELDS)}; not {field!r}"
        )
    return Leaf(*_parsed(value, path))


def _parsed(value: dict[str, Any], path: str) -> tuple[str, str, Any]:
    try:
        leaf = parse_filter(value, path)
    except FilterError as exc:
        raise RuleError(str(exc)) from None
    assert isinstance(leaf, Leaf)
    return leaf.field, leaf.op, leaf.value


def _reads_subscriber(node: Node) -> bool:
    if isinstance(node, And | Or):
        return any(_reads_subscriber(child) for child in node.children)
    if isinstance(node, Not):
        return _reads_subscriber(node.child)
    return isinstance(node, Leaf) and not node.field.startswith("event.")


# --- evaluation ---------------------------------------------------------------------------


def evaluate(node: Node, event: PendingEvent, profile: SubscriberProfile | None) -> bool:
    if isinstance(node, And):
        return all(evaluate(child, event, profile) for child in node.children)
    if isinstance(node, Or):
        return any(evaluate(child, event, profile) for child in node.children)
    if isinstance(node, Not):
        return not evaluate(node.child, event, profile)
    if isinstance(node, SegmentRef):
        return False
    found = _read(node.field, event, profile)
    if node.field in TIME_FIELDS and found is not MISSING:
        return _time_holds(node, found, event.occurred_at)
    if node.field == "language" and found is not MISSING:
        return _language_holds(node, str(found))
    return _leaf_holds(node, found)


def _time_holds(leaf: Leaf, found: float, now: float) -> bool:
    """A subscription's time against an RFC 3339 time, or `within` a span before the event."""
    if leaf.op in ("exists", "not_exists"):
        return leaf.op == "exists"
    if leaf.op == "within":
        return found >= now - within_seconds(leaf.value)
    return _leaf_holds(Leaf(leaf.field, leaf.op, rfc3339_seconds(leaf.value)), found)


def _language_holds(leaf: Leaf, found: str) -> bool:
    """As audiences compare languages: `en` matches en, en-GB; `en-GB` only en-GB; any case."""
    if leaf.op in ("exists", "not_exists"):
        return leaf.op == "exists"
    values = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
    tag, primary = found.lower(), found.lower().split("-", 1)[0]
    matched = any(v.lower() == (tag if "-" in v else primary) for v in values)
    return matched == (leaf.op in ("eq", "in"))


def _read(field: str, event: PendingEvent, profile: SubscriberProfile | None) -> Any:
    if field == "event.name":
        return event.name
    if field.startswith("event.props."):
        return event.props.get(field.removeprefix("event.props."), MISSING)
    if profile is None:
        return MISSING
    if field.startswith("tags."):
        return profile.tags.get(field.removeprefix("tags."), MISSING)
    found = getattr(profile, field)
    return MISSING if found is None else found


def _leaf_holds(leaf: Leaf, found: Any) -> bool:
    op, value = leaf.op, leaf.value
    if op == "exists":
        return found is not MISSING
    if op == "not_exists":
        return found is MISSING
    if found is MISSING:  # as in audiences: ne and not_in hold only for a value that is there
        return False
    if op in ("eq", "ne"):
        return _equal(found, value) == (op == "eq")
    if op in ("in", "not_in"):
        return any(_equal(found, v) for v in value) == (op == "in")
    if not _is_number(found) or not _is_number(value):
        return False
    return {"gt": found > value, "gte": found >= value, "lt": found < value,
            "lte": found <= value}[op]  # fmt: skip


def _equal(found: Any, value: Any) -> bool:
    """Typed, as filters compare tags: 5 equals 5.0, never "5"; true never 1."""
    if isinstance(found, bool) or isinstance(value, bool):
        return isinstance(found, bool) and isinstance(value, bool) and found == value
    if _is_number(found) and _is_number(value):
        return bool(found == value)
    if isinstance(found, str) and isinstance(value, str):
        return found == value
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
