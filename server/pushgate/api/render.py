"""JSON shapes of the API's resources."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pushgate.content.ab_test import AbTest
from pushgate.content.variants import Content
from pushgate.durations import describe
from pushgate.store.models import Counts, Notification, Subscription


def iso(timestamp: float) -> str:
    return (
        datetime.fromtimestamp(timestamp, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def subscription_json(s: Subscription) -> dict[str, Any]:
    return {
        "id": s.id,
        "endpoint": s.endpoint,
        "created_at": iso(s.created_at),
        "last_seen_at": iso(s.last_seen_at),
        "tags": s.tags,
        "timezone": s.timezone,
        "language": s.language,
        "external_id": s.external_id,
        "browser": s.browser,
    }


def notification_json(
    n: Notification, variant_counts: Sequence[Counts] | None = None
) -> dict[str, Any]:
    """`variant_counts`: an A/B test's counts per variant (GET of one notification)."""
    return {
        "id": n.id,
        "status": n.status,
        "created_at": iso(n.created_at),
        "audience": n.audience.to_json(),
        "ttl": n.ttl,
        "urgency": n.urgency,
        "topic": n.topic,
        "notification": n.payload,
        "localized": (n.content or {}).get("localized", {}),
        "counts": n.counts.to_json(),
        "error": n.error,
        "send_at": None if n.send_at is None else iso(n.send_at),
        "deliver_at_local": n.deliver_at_local,
        "throttle_per_minute": n.throttle_per_minute,
        "ignore_quiet_hours": n.ignore_quiet_hours,
        "ignore_frequency_cap": n.ignore_frequency_cap,
        **ab_test_json(n, variant_counts),
    }


def ab_test_json(n: Notification, counts: Sequence[Counts] | None) -> dict[str, Any]:
    """`ab_test` (null without one), `variants` in the order given (each its content and,
    when read, its counts) and `winner`: the winning variant's index, null until chosen."""
    if not n.ab_test:
        return {"ab_test": None, "variants": [], "winner": None}
    test = AbTest.from_json(n.ab_test)
    members = Content.from_json(n.content).ab
    variants: list[dict[str, Any]] = [{"notification": member} for member in members]
    for variant, variant_counts in zip(variants, counts or (), strict=False):
        variant["counts"] = variant_counts.to_json()
    return {
        "ab_test": {
            "sample_percent": test.sample_percent,
            "winner_after": describe(test.winner_after_seconds),
            "metric": test.metric,
        },
        "variants": variants,
        "winner": n.winner,
    }
