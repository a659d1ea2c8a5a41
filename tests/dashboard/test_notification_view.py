"""The notification page's numbers without a page: rates, the timeline's steps and gaps, and
failures in the push services' fixed order."""

from __future__ import annotations

import re

from pushgate.dashboard.notification_view import (
    failure_groups,
    funnel,
    rate,
    timeline_chart,
)
from pushgate.store.counts import FailureCount
from pushgate.store.models import Counts
from pushgate.store.timeline_rows import MinuteCount

T0 = 1_800_000_000  # 2027-01-15 08:00 UTC, a whole minute


def _rows(markup: str) -> list[list[str]]:
    body = re.search(r'<table id="timeline-chart-table">.*?<tbody>(.*?)</tbody>', markup, re.S)
    assert body
    return [
        re.findall(r">([^<>]*)</t[hd]>", row)
        for row in re.findall(r"<tr>(.*?)</tr>", body.group(1))
    ]


def test_rates_divide_by_the_step_before_and_say_dash_for_nothing() -> None:
    assert rate(1, 3) == "33.3 %" and rate(0, 0) == "—"
    steps = {s.label: (s.count, s.rate, s.of) for s in funnel(Counts(targeted=0))}
    assert steps["Accepted"] == (0, "—", "targeted")
    steps = {
        s.label: s.rate for s in funnel(Counts(targeted=4, accepted=4, delivered=2, clicked=1))
    }
    assert (steps["Accepted"], steps["Delivered"], steps["Clicked"]) == (
        "100.0 %",
        "50.0 %",
        "50.0 %",
    )


def test_timeline_fills_empty_minutes_with_zeros() -> None:
    chart = str(timeline_chart([MinuteCount(T0, 3, 1), MinuteCount(T0 + 180, 1, 2)]))
    assert "Deliveries per minute" in chart
    assert _rows(chart) == [["08:00", "3", "1"], ["08:01", "0", "0"], ["08:02", "0", "0"],
                            ["08:03", "1", "2"]]  # fmt: skip


def test_long_timeline_counts_in_coarser_steps_with_the_same_totals() -> None:
    minutes = [MinuteCount(T0 + 60 * i, 1, 1) for i in range(0, 600, 7)]  # 10 hours
    chart = str(timeline_chart(minutes))
    assert "Deliveries per 5 minutes" in chart
    rows = _rows(chart)
    assert len(rows) < 180
    assert sum(int(r[1]) for r in rows) == len(minutes) == sum(int(r[2]) for r in rows)


def test_timeline_over_days_names_the_date_and_an_empty_one_says_no_data() -> None:
    chart = str(timeline_chart([MinuteCount(T0, 1, 0), MinuteCount(T0 + 3 * 86400, 1, 0)]))
    assert "Deliveries per 60 minutes" in chart
    assert _rows(chart)[0][0] == "2027-01-15 08:00"
    assert "No data" in str(timeline_chart([]))


def test_failures_are_ordered_fcm_mozilla_apple_wns_other() -> None:
    rows = [
        FailureCount(None, 410, "wns: gone", 9),
        FailureCount("other", 500, "boom", 1),
        FailureCount("fcm", 403, "fcm: VAPID key mismatch", 2),
        FailureCount("apple", 403, "apple: BadJwtToken", 5),
    ]
    assert [(g.push_service, g.count) for g in failure_groups(rows)] == [
        ("FCM", 2), ("Apple", 5), ("WNS", 9), ("other", 1)
    ]  # fmt: skip
