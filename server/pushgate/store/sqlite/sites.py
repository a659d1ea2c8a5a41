"""SQLite verbs for sites: VAPID keys (sealed at rest), API keys (hashed), origins, the
event-token secret."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Sequence

import aiosqlite

from pushgate.store.models import (
    FrequencyCap,
    QuietHours,
    Site,
    SiteRules,
)
from pushgate.store.sealing import Sealer
from pushgate.store.sqlite.connection import SQLiteConnections
from pushgate.webpush.vapid import VapidKeyPair, generate_key_pair

_SITE_COLUMNS = (
    "sites.id, sites.name, origins, vapid_private_key, vapid_public_key, prompt_text, "
    "sites.created_at, "
    "default_timezone, quiet_hours_start, quiet_hours_end, quiet_hours_allow_high_urgency, "
    "frequency_cap_max, frequency_cap_period"
)


class SiteVerbs(SQLiteConnections):
    async def create_site(self, name: str, origins: Sequence[str]) -> tuple[Site, str]:
        site_id = secrets.token_hex(8)
        keys = generate_key_pair()
        api_key = "pgk_" + secrets.token_urlsafe(32)
        now = time.time()
        site = Site(site_id, name, tuple(origins), keys, now)
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO sites (id, name, origins, vapid_private_key, vapid_public_key, "
                "prompt_text, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    site_id,
                    name,
                    json.dumps(list(origins)),
                    self._sealer.seal(keys.private_key),
                    keys.public_key,
                    site.prompt_text,
                    now,
                ),
            )
            await db.execute(
                "INSERT INTO api_keys (key_hash, site_id, created_at, id, name) "
                "VALUES (?, ?, ?, ?, ?)",
                (hash_api_key(api_key), site_id, now, new_api_key_id(), "default"),
            )
        return site, api_key

    async def reseal_site_keys(self) -> int:
        """Seal every site's VAPID private key (and webhook token and secret) again with the
        newest key, in one transaction."""
        async with self._transaction() as db:
            await db.execute("PRAGMA secure_delete = ON")  # zero the old values' bytes
            async with db.execute("SELECT id, vapid_private_key FROM sites") as cur:
                rows = list(await cur.fetchall())
            await db.executemany(
                "UPDATE sites SET vapid_private_key = ? WHERE id = ?",
                [(self._sealer.reseal(stored), site_id) for site_id, stored in rows],
            )
            # Webhooks' URL tokens and signing secrets are sealed with the same keys.
            async with db.execute("SELECT id, token, secret FROM webhooks") as cur:
                hooks = list(await cur.fetchall())
            reseal = self._sealer.reseal
            await db.executemany(
                "UPDATE webhooks SET token = ?, secret = ? WHERE id = ?",
                [(reseal(t), None if c is None else reseal(c), i) for i, t, c in hooks],
            )
        await self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # old pages out of the WAL
        return len(rows)

    async def _check_site_keys(self) -> None:
        rows = await self._all("SELECT vapid_private_key FROM sites")
        self._sealer.check([row[0] for row in rows])

    async def get_site(self, site_id: str) -> Site | None:
        row = await self._one(f"SELECT {_SITE_COLUMNS} FROM sites WHERE id = ?", (site_id,))
        return _site(row, self._sealer) if row else None

    async def find_site_by_name(self, name: str) -> Site | None:
        row = await self._one(f"SELECT {_SITE_COLUMNS} FROM sites WHERE name = ?", (name,))
        return _site(row, self._sealer) if row else None

    async def update_site_rules(self, site_id: str, rules: SiteRules) -> Site | None:
        """Set the rules named in `rules.given`, in one statement; None: no such site."""
        values = _rule_columns(rules)
        if values:
            assignments = ", ".join(f"{column} = ?" for column in values)
            async with self._transaction() as db:
                await db.execute(
                    f"UPDATE sites SET {assignments} WHERE id = ?", (*values.values(), site_id)
                )
        return await self.get_site(site_id)

    async def site_for_api_key(self, api_key: str) -> Site | None:
        row = await self._one(
            f"SELECT {_SITE_COLUMNS} FROM sites JOIN api_keys ON api_keys.site_id = sites.id "
            "WHERE api_keys.key_hash = ?",
            (hash_api_key(api_key),),
        )
        return _site(row, self._sealer) if row else None

    async def origin_is_registered(self, origin: str) -> bool:
        row = await self._one(
            "SELECT 1 FROM sites, json_each(sites.origins) WHERE json_each.value = ? LIMIT 1",
            (origin,),
        )
        return row is not None

    async def event_secret(self) -> bytes:
        if self._secret is None:
            async with self._transaction() as db:
                await db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('event_secret', ?)",
                    (secrets.token_bytes(32),),
                )
                async with db.execute("SELECT value FROM meta WHERE key = 'event_secret'") as cur:
                    row = await cur.fetchone()
            assert row is not None
            self._secret = bytes(row[0])
        return self._secret


def hash_api_key(api_key: str) -> str:
    # API keys are 256-bit random tokens, so one SHA-256 is enough (no password stretching).
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_api_key_id() -> str:
    """A key's public id: listed and revoked by it, it says nothing about the key."""
    return "key_" + secrets.token_hex(8)


def _rule_columns(rules: SiteRules) -> dict[str, object]:
    """The columns (names are constants, never input) and values that `rules` sets."""
    values: dict[str, object] = {}
    if "default_timezone" in rules.given:
        values["default_timezone"] = rules.default_timezone
    if "quiet_hours" in rules.given:
        quiet = rules.quiet_hours
        values["quiet_hours_start"] = None if quiet is None else quiet.start
        values["quiet_hours_end"] = None if quiet is None else quiet.end
        values["quiet_hours_allow_high_urgency"] = int(
            quiet is not None and quiet.allow_high_urgency
        )
    if "frequency_cap" in rules.given:
        cap = rules.frequency_cap
        values["frequency_cap_max"] = None if cap is None else cap.max
        values["frequency_cap_period"] = None if cap is None else cap.period
    return values


def _site(row: aiosqlite.Row, sealer: Sealer) -> Site:
    keys = VapidKeyPair(private_key=sealer.unseal(row[3]), public_key=row[4])
    quiet = None if row[8] is None else QuietHours(row[8], row[9], bool(row[10]))
    cap = None if row[11] is None else FrequencyCap(row[11], row[12])
    return Site(row[0], row[1], tuple(json.loads(row[2])), keys, row[6], row[5], row[7], quiet, cap)
