"""PostgreSQL: what templates may read of subscribers, for a batch of their deliveries."""

from __future__ import annotations

from collections.abc import Sequence

from pushgate.store.models import SubscriberProfile
from pushgate.store.postgres.connection import PostgresConnections
from pushgate.store.profile_rows import PROFILE_COLUMNS, profile_from


class ProfileVerbs(PostgresConnections):
    async def subscriber_profiles(
        self, subscription_keys: Sequence[int]
    ) -> dict[int, SubscriberProfile]:
        """The profile of each subscription that still exists, by key."""
        rows = await self._all(
            f"SELECT {PROFILE_COLUMNS} FROM subscriptions WHERE key = ANY($1::bigint[])",
            list(subscription_keys),
        )
        return {row["key"]: profile_from(row) for row in rows}

    async def user_profiles(
        self, site_id: str, external_id: str | None, subscription_key: int | None
    ) -> list[SubscriberProfile]:
        """The profiles of a user's subscriptions (by external id), or of one subscription."""
        arg: str | int | None = external_id
        if external_id is not None:
            where = "external_id = $2"
        else:
            where, arg = "key = $2", subscription_key
        rows = await self._all(
            f"SELECT {PROFILE_COLUMNS} FROM subscriptions WHERE site_id = $1 AND {where}",
            site_id,
            arg,
        )
        return [profile_from(row) for row in rows]
