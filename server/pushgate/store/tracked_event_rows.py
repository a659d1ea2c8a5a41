"""Tracked events as rows, the same on both backends."""

from __future__ import annotations

import json
from typing import Any

from pushgate.store.automation_models import TrackedEvent

# The event with its subscription's public id (NULL once that subscription is gone).
SELECT = (
    "SELECT e.id, e.name, e.props, e.occurred_at, e.received_at, e.external_id, "
    "s.id AS subscription_id FROM tracked_events e "
    "LEFT JOIN subscriptions s ON s.key = e.subscription_key"
)


def tracked_event_from(row: Any) -> TrackedEvent:
    return TrackedEvent(
        row["id"],
        row["name"],
        json.loads(row["props"]),
        row["occurred_at"],
        row["received_at"],
        row["external_id"],
        row["subscription_id"],
    )
