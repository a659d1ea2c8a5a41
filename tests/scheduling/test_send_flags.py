"""`pushgate send --send-at --local-time --segment --filter`: the request body they make."""

from __future__ import annotations

import click
import pytest

from pushgate.send_cli import _request_body


def test_schedule_flags_become_send_at_and_deliver_at_local() -> None:
    body = _request_body(
        {"title": "t", "send_at": "2026-12-24T18:00:00+01:00", "local_time": "07:00"}
    )
    assert body == {
        "title": "t",
        "send_at": "2026-12-24T18:00:00+01:00",
        "deliver_at_local": "07:00",
    }


def test_segment_and_filter_flags_choose_the_audience() -> None:
    assert _request_body({"title": "t", "segment": "sports"})["audience"] == {"segment": "sports"}
    leaf = '{"field": "tags.topic", "op": "eq", "value": "sports"}'
    assert _request_body({"title": "t", "filter_json": leaf})["audience"] == {
        "filter": {"field": "tags.topic", "op": "eq", "value": "sports"}
    }


def test_two_audiences_or_a_filter_that_is_not_json_are_refused() -> None:
    with pytest.raises(click.UsageError):
        _request_body({"title": "t", "segment": "a", "tags": ["x=1"]})
    with pytest.raises(click.BadParameter):
        _request_body({"title": "t", "filter_json": "{nope"})
