"""Triggers' rules, pure (issue #11): which events start, restart and cancel runs, and what
a definition may say."""

from __future__ import annotations

from typing import Any

import pytest

from pushgate.automation.trigger_rules import RuleError, check_rule, rule_of
from pushgate.store.automation_models import PendingEvent, RunCancel, RunStart
from pushgate.store.models import SubscriberProfile

CART = {
    "when": {
        "event": "cart_add",
        "filter": {"field": "event.props.total", "op": "gte", "value": 10},
    },
    "delay": "1h",
    "unless": {"event": "checkout", "within": "2h"},
    "group_by": "props.cart_id",
}


def event(name: str, key: int = 1, at: float = 1000.0, **props: Any) -> PendingEvent:
    return PendingEvent(key, "site", f"e{key}", name, props, at, 7, "sub-7", "user-1")


def test_a_matching_when_event_starts_a_run_due_after_the_delay() -> None:
    (start,) = rule_of("t", CART).changes(event("cart_add", cart_id="c1", total=12.5), [])
    assert isinstance(start, RunStart)
    assert (start.user_key, start.group_value, start.due_at) == ("user:user-1", '"c1"', 4600.0)
    assert start.restart  # group_by: a later cart_add of c1 moves this run
    assert start.event["audience"] == {"external_ids": ["user-1"]}
    assert start.event["event"]["props"] == {"cart_id": "c1", "total": 12.5}


def test_the_filter_decides_and_typed_values_compare_by_type() -> None:
    rule = rule_of("t", CART)
    assert rule.changes(event("cart_add", cart_id="c1", total=9), []) == []
    assert rule.changes(event("cart_add", cart_id="c1", total="12"), []) == []  # a string
    assert rule.changes(event("cart_add", cart_id="c1"), []) == []  # no total at all
    assert rule.changes(event("page_view", total=50), []) == []


def test_an_unless_event_cancels_the_same_group_or_any_group_without_one() -> None:
    rule = rule_of("t", CART)
    (cancel,) = rule.changes(event("checkout", at=2000, cart_id="c1"), [])
    assert cancel == RunCancel("t", "user:user-1", '"c1"', 2000, 7200)
    (anything,) = rule.changes(event("checkout", at=2000), [])
    assert isinstance(anything, RunCancel) and anything.group_value is None


def test_without_group_by_each_event_has_its_own_run() -> None:
    rule = rule_of("t", {"when": {"event": "article_read"}})
    (first,) = rule.changes(event("article_read", key=1), [])
    (second,) = rule.changes(event("article_read", key=2), [])
    assert isinstance(first, RunStart) and isinstance(second, RunStart)
    assert first.group_value != second.group_value and not first.restart
    assert first.due_at == 1000.0  # no delay: due at once


def test_a_filter_on_the_subscriber_matches_any_of_the_users_subscriptions() -> None:
    rule = rule_of(
        "t",
        {"when": {"event": "e", "filter": {"and": [
            {"field": "tags.plan", "op": "eq", "value": "pro"},
            {"field": "language", "op": "in", "value": ["de", "fr"]},
        ]}}},
    )  # fmt: skip
    pro_de = SubscriberProfile("de", {"plan": "pro"}, None, None, "user-1")
    free_de = SubscriberProfile("de", {"plan": "free"}, None, None, "user-1")
    assert rule.changes(event("e"), [free_de]) == []
    assert len(rule.changes(event("e"), [free_de, pro_de])) == 1
    assert rule.changes(event("e"), []) == []


def test_an_event_without_a_user_does_nothing() -> None:
    anonymous = PendingEvent(1, "site", "e1", "cart_add", {"total": 50}, 0.0, None, None, None)
    assert rule_of("t", CART).changes(anonymous, []) == []


@pytest.mark.parametrize(
    ("definition", "words"),
    [
        ({}, "when"),
        ({"when": {"event": "bad name!"}}, "when.event"),
        ({"when": {"event": "e"}, "delay": "1w"}, "delay"),
        ({"when": {"event": "e"}, "delay": "0s"}, "delay"),
        ({"when": {"event": "e"}, "delay": "31d"}, "delay"),
        ({"when": {"event": "e"}, "unless": {"event": "x"}}, "unless"),
        ({"when": {"event": "e"}, "group_by": "cart_id"}, "group_by"),
        ({"when": {"event": "e", "filter": {"segment": "vip"}}}, "segment"),
        ({"when": {"event": "e", "filter": {"field": "colour", "op": "eq", "value": "x"}}},
         "colour"),
        ({"when": {"event": "e", "filter": {"field": "event.props.n", "op": "gt", "value": "a"}}},
         "when.filter"),
    ],
)  # fmt: skip
def test_bad_definitions_name_the_field(definition: dict[str, Any], words: str) -> None:
    with pytest.raises(RuleError, match=words.replace(".", r"\.")):
        check_rule(definition)


def test_every_subscriber_field_compares_as_audiences_do() -> None:
    def matches(leaf: dict[str, Any], profile: SubscriberProfile) -> bool:
        rule = rule_of("t", {"when": {"event": "e", "filter": leaf}})
        return bool(rule.changes(event("e", at=1_800_000_000.0), [profile]))

    ann = SubscriberProfile(
        "en-GB", {"plan": "pro"}, "Europe/London", "GB", "ann",
        browser="firefox", push_service="mozilla",
        created_at=1_800_000_000.0 - 10 * 86400, last_seen_at=1_800_000_000.0 - 3600,
    )  # fmt: skip
    assert matches({"field": "language", "op": "eq", "value": "en"}, ann)  # primary language
    assert matches({"field": "language", "op": "eq", "value": "EN-gb"}, ann)
    assert not matches({"field": "language", "op": "eq", "value": "en-US"}, ann)
    assert matches({"field": "browser", "op": "in", "value": ["firefox", "safari"]}, ann)
    assert matches({"field": "push_service", "op": "eq", "value": "mozilla"}, ann)
    assert matches({"field": "last_seen_at", "op": "within", "value": "1d"}, ann)
    assert not matches({"field": "created_at", "op": "within", "value": "7d"}, ann)
    assert matches({"field": "created_at", "op": "lt", "value": "2028-01-01T00:00:00Z"}, ann)
    assert matches({"field": "country", "op": "eq", "value": "GB"}, ann)
    # ne and not_in hold only for a value that is there, as in audiences
    assert not matches({"field": "tags.missing", "op": "ne", "value": "x"}, ann)
    assert matches({"field": "tags.plan", "op": "ne", "value": "free"}, ann)
    assert not matches({"field": "event.props.none", "op": "not_in", "value": ["a"]}, ann)
