"""SQLite: what templates may read of subscribers, for a batch of their deliveries."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pushgate.store.models import SubscriberProfile
from pushgate.store.profile_rows import PROFILE_COLUMNS, profile_from
from pushgate.store.sqlite.connection import SQLiteConnections


class ProfileVerbs(SQLiteConnections):
    async def subscriber_profiles(
        self, subscription_keys: Sequence[int]
    ) -> dict[int, SubscriberProfile]:
        """The profile of each subscription that still exists, by key."""
        rows = await self._all(
            f"SELECT {PROFILE_COLUMNS} FROM subscriptions "
            "WHERE key IN (SELECT value FROM json_each(?))",
            (json.dumps(list(subscription_keys)),),
        )
        return {row["key"]: profile_from(row) for row in rows}

    async def user_profiles(
        self, site_id: str, external_id: str | None, subscription_key: int | None
    ) -> list[SubscriberProfile]:
        """The profiles of a user's subscriptions (by external id), or of one subscription."""
        arg: str | int | None = external_id
        if external_id is not None:
            where = "external_id = ?"
        else:
            where, arg = "key = ?", subscription_key
        rows = await self._all(
            f"SELECT {PROFILE_COLUMNS} FROM subscriptions WHERE site_id = ? AND {where}",
            (site_id, arg),
        )
        return [profile_from(row) for row in rows]
