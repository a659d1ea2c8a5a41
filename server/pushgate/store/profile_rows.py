"""A subscriber's profile (what templates and trigger filters read) from a subscriptions row."""

from __future__ import annotations

import json
from typing import Any

from pushgate.audience.countries import country_of_zone
from pushgate.store.models import SubscriberProfile

PROFILE_COLUMNS = (
    "key, language, tags, timezone, country, external_id, browser, push_service, created_at, "
    "last_seen_at"
)


def profile_from(row: Any) -> SubscriberProfile:
    return SubscriberProfile(
        row["language"],
        json.loads(row["tags"]),
        row["timezone"],
        row["country"] or country_of_zone(row["timezone"]),
        row["external_id"],
        row["browser"],
        row["push_service"],
        row["created_at"],
        row["last_seen_at"],
    )
