"""JSON shapes of the API's resources."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pushgate.store.models import Notification, Subscription


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


def notification_json(n: Notification) -> dict[str, Any]:
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
    }
