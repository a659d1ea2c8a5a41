"""Triggers and their runs as rows, the same on both backends."""

from __future__ import annotations

import json
from typing import Any

from pushgate.store.automation_models import DueRun, PendingEvent, Trigger

COLUMNS = "id, site_id, name, definition, enabled, created_at, updated_at, fired, cancelled"
# The pending-run count goes with a trigger the API shows.
WITH_PENDING = (
    f"SELECT {', '.join('t.' + c for c in COLUMNS.split(', '))}, (SELECT count(*) FROM "
    "trigger_runs r WHERE r.trigger_id = t.id AND r.state = 'pending') AS pending "
    "FROM triggers t"
)
EVENTS = (
    "SELECT e.key, e.site_id, e.id, e.name, e.props, e.occurred_at, e.subscription_key, "
    "s.id AS subscription_id, coalesce(e.external_id, s.external_id) AS external_id "
    "FROM tracked_events e LEFT JOIN subscriptions s ON s.key = e.subscription_key"
)
DUE_RUNS = (
    "SELECT r.key, r.trigger_id, t.site_id, r.user_key, r.event, t.definition "
    "FROM trigger_runs r JOIN triggers t ON t.id = r.trigger_id"
)


def values(t: Trigger) -> tuple[object, ...]:
    """The values of COLUMNS."""
    return (
        t.id, t.site_id, t.name, json.dumps(t.definition), t.enabled, t.created_at,
        t.updated_at, t.fired, t.cancelled,
    )  # fmt: skip


def trigger_from(row: Any) -> Trigger:
    return Trigger(
        row["id"],
        row["site_id"],
        row["name"],
        json.loads(row["definition"]),
        bool(row["enabled"]),
        row["created_at"],
        row["updated_at"],
        row["fired"],
        row["cancelled"],
        row["pending"] if "pending" in row.keys() else 0,  # noqa: SIM118 (sqlite3.Row)
    )


def event_from(row: Any) -> PendingEvent:
    return PendingEvent(
        row["key"],
        row["site_id"],
        row["id"],
        row["name"],
        json.loads(row["props"]),
        row["occurred_at"],
        row["subscription_key"],
        row["subscription_id"],
        row["external_id"],
    )


def due_run_from(row: Any) -> DueRun:
    return DueRun(
        row["key"],
        row["trigger_id"],
        row["site_id"],
        row["user_key"],
        json.loads(row["event"]),
        json.loads(row["definition"]),
    )
