"""PostgreSQL verbs for a site's API keys (mirrors store/sqlite/api_keys.py)."""

from __future__ import annotations

from typing import Any

import asyncpg

from pushgate.store.base import LastApiKey
from pushgate.store.models import ApiKey
from pushgate.store.postgres.connection import PostgresConnections
from pushgate.store.sqlite.api_keys import (
    KEY_COLUMNS,
    hash_api_key,
    new_api_key,
    new_api_key_id,
)


class ApiKeyVerbs(PostgresConnections):
    async def create_api_key(self, site_id: str, name: str, now: float) -> tuple[ApiKey, str]:
        """A new key for the site, and the key itself (only its hash is kept)."""
        api_key, key = new_api_key(), ApiKey(new_api_key_id(), site_id, name, now)
        async with self._transaction() as db:
            await insert_api_key(db, api_key, key)
        return key, api_key

    async def list_api_keys(self, site_id: str) -> list[ApiKey]:
        rows = await self._all(
            f"SELECT {KEY_COLUMNS} FROM api_keys WHERE site_id = $1 ORDER BY created_at, id",
            site_id,
        )
        return [api_key_of(row) for row in rows]

    async def revoke_api_key(self, site_id: str, key_id: str) -> bool:
        """Delete the key: False if the site has no such key; LastApiKey if it is the last.
        The site's row is locked first, so two gateways revoking its last two keys at once
        take turns and the second sees one key left."""
        async with self._transaction() as db:
            await db.execute("SELECT 1 FROM sites WHERE id = $1 FOR UPDATE", site_id)
            total, found = await db.fetchrow(
                "SELECT count(*), count(*) FILTER (WHERE id = $2) FROM api_keys WHERE site_id = $1",
                site_id,
                key_id,
            )
            if not found:
                return False
            if total == 1:
                raise LastApiKey(key_id)
            await db.execute("DELETE FROM api_keys WHERE id = $1 AND site_id = $2", key_id, site_id)
        return True

    async def touch_api_key(self, key_id: str, now: float, if_before: float) -> None:
        """Record a use at `now` unless one after `if_before` is recorded already."""
        async with self._transaction(durable=False) as db:
            await db.execute(
                "UPDATE api_keys SET last_used_at = $1 "
                "WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)",
                now,
                key_id,
                if_before,
            )


async def insert_api_key(db: asyncpg.Connection, api_key: str, key: ApiKey) -> None:
    await db.execute(
        "INSERT INTO api_keys (key_hash, site_id, created_at, id, name) "
        "VALUES ($1, $2, $3, $4, $5)",
        hash_api_key(api_key),
        key.site_id,
        key.created_at,
        key.id,
        key.name,
    )


def api_key_of(row: asyncpg.Record | tuple[Any, ...]) -> ApiKey:
    return ApiKey(row[0], row[1], row[2], row[3], row[4])
