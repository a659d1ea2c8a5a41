"""What the notification pages show, worked out from the store's facts: the funnel with its
rates, deliveries over time (gaps filled, coarser steps for a long send), failures by push
service and reason, and the content in words. Pure functions, so the numbers are tested
without a page."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup

from pushgate.api.failures import grouped
from pushgate.content.ab_test import AbTest
from pushgate.content.variants import Content
from pushgate.dashboard.charts import Series, bar_chart, line_chart
from pushgate.durations import describe
from pushgate.store.counts import FailureCount
from pushgate.store.models import Counts, Notification
from pushgate.store.timeline_rows import MINUTE_SECONDS, MinuteCount

# Timeline steps, in minutes: the finest that keeps a chart within MAX_TIMELINE_POINTS.
TIMELINE_STEPS_MINUTES = (1, 5, 15, 60, 360, 1440)
MAX_TIMELINE_POINTS = 180
SERVICE_NAMES = {"fcm": "FCM", "mozilla": "Mozilla", "apple": "Apple", "wns": "WNS"}
SERVICE_ORDER = ("FCM", "Mozilla", "Apple", "WNS", "other")
ENDED_WITHOUT_WINNER = ("cancelled", "failed")  # statuses after which no winner is chosen


def rate(part: int, whole: int) -> str:
    """A share as shown on the pages, one decimal ("—" when there is nothing to divide by)."""
    return "—" if whole <= 0 else f"{100 * part / whole:.1f} %"


def click_through_rate(counts: Counts) -> str:
    """Clicked of accepted: the browsers a push service took it for (the A/B tests' measure)."""
    return rate(counts.clicked, counts.accepted)


def when(timestamp: float | None) -> str:
    if timestamp is None:
        return "—"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class FunnelStep:
    label: str
    count: int
    rate: str  # of `of`
    of: str


def funnel(counts: Counts) -> list[FunnelStep]:
    """Targeted → accepted → delivered → clicked, each of the step before; then the rest."""
    c = counts
    return [
        FunnelStep("Targeted", c.targeted, "", ""),
        FunnelStep("Accepted", c.accepted, rate(c.accepted, c.targeted), "targeted"),
        FunnelStep("Delivered", c.delivered, rate(c.delivered, c.accepted), "accepted"),
        FunnelStep("Clicked", c.clicked, rate(c.clicked, c.delivered), "delivered"),
        FunnelStep("Dismissed", c.dismissed, rate(c.dismissed, c.delivered), "delivered"),
        FunnelStep("Failed", c.failed, rate(c.failed, c.targeted), "targeted"),
        FunnelStep("Gone", c.gone, rate(c.gone, c.targeted), "targeted"),
        FunnelStep("Capped", c.capped, rate(c.capped, c.targeted), "targeted"),
        FunnelStep("Cancelled", c.cancelled, rate(c.cancelled, c.targeted), "targeted"),
    ]


def funnel_chart(steps: Sequence[FunnelStep]) -> Markup:
    return bar_chart(
        chart_id="funnel-chart",
        title="Funnel: what became of the notification",
        x_label="Step",
        y_label="Subscribers",
        x_ticks=[s.label for s in steps],
        series=[Series("Subscribers", [s.count for s in steps])],
    )


def timeline_chart(minutes: Sequence[MinuteCount]) -> Markup:
    """Accepted and delivered per step of time, every step from the first to the last shown
    (an empty minute is a zero, not a gap the line jumps over)."""
    step = _step_seconds(minutes)
    buckets: dict[int, list[int]] = {}
    for m in minutes:
        bucket = buckets.setdefault(m.minute - m.minute % step, [0, 0])
        bucket[0] += m.accepted
        bucket[1] += m.delivered
    starts = list(range(min(buckets), max(buckets) + step, step)) if buckets else []
    unit = "minute" if step == MINUTE_SECONDS else f"{step // MINUTE_SECONDS} minutes"
    return line_chart(
        chart_id="timeline-chart",
        title=f"Deliveries per {unit}",
        x_label=f"Start of each {unit} (UTC)",
        y_label="Deliveries",
        x_ticks=[_tick(t, starts) for t in starts],
        series=[
            Series("Accepted by the push service", [buckets.get(t, [0, 0])[0] for t in starts]),
            Series("Delivered (reported by browsers)", [buckets.get(t, [0, 0])[1] for t in starts]),
        ],
    )


def _step_seconds(minutes: Sequence[MinuteCount]) -> int:
    if not minutes:
        return MINUTE_SECONDS
    span = minutes[-1].minute - minutes[0].minute
    for step in TIMELINE_STEPS_MINUTES:
        if span // (step * MINUTE_SECONDS) < MAX_TIMELINE_POINTS:
            return step * MINUTE_SECONDS
    days = span // (TIMELINE_STEPS_MINUTES[-1] * MINUTE_SECONDS) // MAX_TIMELINE_POINTS + 1
    return days * TIMELINE_STEPS_MINUTES[-1] * MINUTE_SECONDS


def _tick(start: int, starts: Sequence[int]) -> str:
    """HH:MM, with the date when the chart spans more than one day."""
    moment = datetime.fromtimestamp(start, UTC)
    one_day = (
        datetime.fromtimestamp(starts[0], UTC).date()
        == datetime.fromtimestamp(starts[-1], UTC).date()
    )
    return moment.strftime("%H:%M" if one_day else "%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class FailureGroup:
    push_service: str  # FCM, Mozilla, Apple, WNS or other
    status: int | None
    reason: str
    count: int
    explanation: str


def failure_groups(rows: Sequence[FailureCount]) -> list[FailureGroup]:
    """GET /api/v1/notifications/{id}/failures's groups, by push service in a fixed order."""
    groups = [
        FailureGroup(
            SERVICE_NAMES.get(g["push_service"], "other"),
            g["status"],
            g["reason"],
            g["count"],
            g["explanation"],
        )
        for g in grouped(rows)
    ]
    return sorted(groups, key=lambda g: SERVICE_ORDER.index(g.push_service))  # stable: by count


def failures_chart(groups: Sequence[FailureGroup]) -> Markup:
    totals = {name: 0 for name in SERVICE_ORDER}
    for g in groups:
        totals[g.push_service] += g.count
    return bar_chart(
        chart_id="failures-chart",
        title="Failed and gone deliveries by push service",
        x_label="Push service",
        y_label="Deliveries",
        x_ticks=list(SERVICE_ORDER),
        series=[Series("Failed or gone", list(totals.values()))],
    )


def audience_text(notification: Notification) -> str:
    """The audience in words (a filter as its JSON)."""
    a = notification.audience
    if a.everyone or a.to_json() == {"all": True}:
        return "Everyone"
    if a.segment is not None:
        return f"Segment {a.segment}"
    if a.tags is not None:
        return "Tags " + ", ".join(f"{k} = {v}" for k, v in a.tags.items())
    if a.external_ids is not None:
        return f"{len(a.external_ids):,} external ids: " + ", ".join(a.external_ids[:10])
    if a.subscription_ids is not None:
        return f"{len(a.subscription_ids):,} subscriptions: " + ", ".join(a.subscription_ids[:10])
    return "Filter " + json.dumps(a.to_json().get("filter"), sort_keys=True)


def schedule_text(notification: Notification) -> str:
    n = notification
    if n.deliver_at_local:
        return f"At {n.deliver_at_local} in each subscriber's time zone, from {when(n.starts_at)}"
    if n.send_at is not None:
        return f"At {when(n.send_at)}"
    return f"At once ({when(n.created_at)})"


def content_facts(notification: Notification) -> list[tuple[str, Any]]:
    """(label, value) pairs of what the notification said and to whom; absent fields left out."""
    p = notification.payload
    facts: list[tuple[str, Any]] = [("Title", p.get("title", ""))]
    for label, key in (("Body", "body"), ("URL", "navigate"), ("Icon", "icon"),
                       ("Image", "image"), ("Tag", "tag")):  # fmt: skip
        if p.get(key):
            facts.append((label, p[key]))
    for action in p.get("actions") or []:
        facts.append(("Button", f"{action.get('title', '')} ({action.get('action', '')})"))
    facts += [
        ("Audience", audience_text(notification)),
        ("Schedule", schedule_text(notification)),
        ("Urgency", notification.urgency or "normal"),
        ("TTL", describe(notification.ttl)),
    ]
    return facts


@dataclass(frozen=True)
class Variant:
    title: str
    counts: Counts
    rate: str  # the test's metric of accepted


@dataclass(frozen=True)
class AbSummary:
    """A message A/B test as the page shows it: its settings, the variants and the winner."""

    settings: str
    metric: str
    variants: list[Variant]
    winner: int | None  # the winning variant's index, None until chosen
    winner_due: str | None = None  # when the gateway chooses it; None if it never will


def ab_summary(notification: Notification, counts: Sequence[Counts] | None) -> AbSummary | None:
    """None for a notification without an A/B test; `counts` per variant, as the API reads
    them (api/notification_service.variant_counts)."""
    if not notification.ab_test or counts is None:
        return None
    test = AbTest.from_json(notification.ab_test)
    members = Content.from_json(notification.content).ab
    variants = [
        Variant(
            str(member.get("title", "")),
            c,
            rate(c.clicked if test.metric == "clicked" else c.delivered, c.accepted),
        )
        for member, c in zip(members, counts, strict=False)
    ]
    settings = (
        f"{test.sample_percent} % of the audience split evenly across {len(variants)} variants; "
        f"after {describe(test.winner_after_seconds)} the variant with the best {test.metric} "
        "rate (of accepted) goes to the rest."
    )
    due = test.winner_due_at(notification.starts_at)
    winner_due = None if notification.status in ENDED_WITHOUT_WINNER else when(due)
    return AbSummary(settings, test.metric, variants, notification.winner, winner_due)
