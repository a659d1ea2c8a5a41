"""SQLite verbs for a site's API keys: several per site, each with an id and a name, stored as a
SHA-256 of the key, listed without it, revoked by id."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from typing import Any

import aiosqlite

from pushgate.store.base import LastApiKey
from pushgate.store.models import ApiKey
from pushgate.store.sqlite.connection import SQLiteConnections

KEY_COLUMNS = "api_keys.id, api_keys.site_id, api_keys.name, api_keys.created_at, last_used_at"


class ApiKeyVerbs(SQLiteConnections):
    async def create_api_key(self, site_id: str, name: str, now: float) -> tuple[ApiKey, str]:
        """A new key for the site, and the key itself (only its hash is kept)."""
        api_key, key = new_api_key(), ApiKey(new_api_key_id(), site_id, name, now)
        async with self._transaction() as db:
            await insert_api_key(db, api_key, key)
        return key, api_key

    async def list_api_keys(self, site_id: str) -> list[ApiKey]:
        rows = await self._all(
            f"SELECT {KEY_COLUMNS} FROM api_keys WHERE site_id = ? ORDER BY created_at, id",
            (site_id,),
        )
        return [api_key_of(row) for row in rows]

    async def revoke_api_key(self, site_id: str, key_id: str) -> bool:
        """Delete the key: False if the site has no such key; LastApiKey if it is the last."""
        async with self._transaction() as db:  # one writer: the count cannot change meanwhile
            async with db.execute(
                "SELECT count(*), sum(id = ?) FROM api_keys WHERE site_id = ?", (key_id, site_id)
            ) as cur:
                total, found = await cur.fetchone() or (0, 0)
            if not found:
                return False
            if total == 1:
                raise LastApiKey(key_id)
            await db.execute("DELETE FROM api_keys WHERE id = ? AND site_id = ?", (key_id, site_id))
        return True

    async def touch_api_key(self, key_id: str, now: float, if_before: float) -> None:
        """Record a use at `now` unless one after `if_before` is recorded already."""
        async with self._transaction(durable=False) as db:  # bookkeeping: a lost one is harmless
            await db.execute(
                "UPDATE api_keys SET last_used_at = ? "
                "WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)",
                (now, key_id, if_before),
            )


async def insert_api_key(db: aiosqlite.Connection, api_key: str, key: ApiKey) -> None:
    await db.execute(
        "INSERT INTO api_keys (key_hash, site_id, created_at, id, name) VALUES (?, ?, ?, ?, ?)",
        (hash_api_key(api_key), key.site_id, key.created_at, key.id, key.name),
    )


def new_api_key() -> str:
    return "pgk_" + secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> str:
    # API keys are 256-bit random tokens, so one SHA-256 is enough (no password stretching).
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_api_key_id() -> str:
    """A key's public id: listed and revoked by it, it says nothing about the key."""
    return "key_" + secrets.token_hex(8)


def api_key_of(row: Sequence[Any]) -> ApiKey:
    return ApiKey(row[0], row[1], row[2], row[3], row[4])
