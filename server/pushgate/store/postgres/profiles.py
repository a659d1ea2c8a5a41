"""PostgreSQL: what templates may read of subscribers, for a batch of their deliveries."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pushgate.audience.countries import country_of_zone
from pushgate.store.models import SubscriberProfile
from pushgate.store.postgres.connection import PostgresConnections


class ProfileVerbs(PostgresConnections):
    async def subscriber_profiles(
        self, subscription_keys: Sequence[int]
    ) -> dict[int, SubscriberProfile]:
        """The profile of each subscription that still exists, by key."""
        rows = await self._all(
            "SELECT key, language, tags, timezone, country, external_id FROM subscriptions "
            "WHERE key = ANY($1::bigint[])",
            list(subscription_keys),
        )
        return {
            row["key"]: SubscriberProfile(
                row["language"],
                json.loads(row["tags"]),
                row["timezone"],
                row["country"] or country_of_zone(row["timezone"]),
                row["external_id"],
            )
            for row in rows
        }
