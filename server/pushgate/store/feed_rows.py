"""A feed as a row, the same on both backends."""

from __future__ import annotations

import json
from typing import Any

from pushgate.store.automation_models import Feed

COLUMNS = (
    "id, site_id, url, definition, interval_seconds, next_poll_at, created_at, updated_at, "
    "primed, etag, last_modified, last_polled_at, last_status, last_error, failures, sent"
)
NEW_COLUMNS = "id, site_id, url, definition, interval_seconds, next_poll_at, created_at, updated_at"


def definition(feed: Feed) -> str:
    return json.dumps({"notification": feed.notification})


def new_values(feed: Feed) -> tuple[object, ...]:
    """The values of NEW_COLUMNS."""
    return (
        feed.id, feed.site_id, feed.url, definition(feed), feed.interval_seconds,
        feed.next_poll_at, feed.created_at, feed.updated_at,
    )  # fmt: skip


def feed_from(row: Any) -> Feed:
    return Feed(
        row["id"],
        row["site_id"],
        row["url"],
        json.loads(row["definition"])["notification"],
        row["interval_seconds"],
        row["next_poll_at"],
        row["created_at"],
        row["updated_at"],
        bool(row["primed"]),
        row["etag"],
        row["last_modified"],
        row["last_polled_at"],
        row["last_status"],
        row["last_error"],
        row["failures"],
        row["sent"],
    )
