"""SQLite verbs for sites: VAPID keys (sealed at rest), API keys (hashed), origins, the
soft prompt's words, the event-token secret; deleting a site with every row it owns."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence

import aiosqlite

from pushgate.store.base import SiteNameTaken
from pushgate.store.models import (
    ApiKey,
    FrequencyCap,
    QuietHours,
    Site,
    SiteChange,
    SiteRules,
)
from pushgate.store.sealing import Sealer
from pushgate.store.site_data import site_deletes
from pushgate.store.sqlite.api_keys import (
    KEY_COLUMNS,
    ApiKeyVerbs,
    api_key_of,
    hash_api_key,
    insert_api_key,
    new_api_key,
    new_api_key_id,
)
from pushgate.webpush.vapid import VapidKeyPair, generate_key_pair

_SITE_COLUMNS = (
    "sites.id, sites.name, origins, vapid_private_key, vapid_public_key, prompt_text, "
    "sites.created_at, "
    "default_timezone, quiet_hours_start, quiet_hours_end, quiet_hours_allow_high_urgency, "
    "frequency_cap_max, frequency_cap_period, prompt_accept, prompt_dismiss, prompt_snooze_days"
)
_DELETES = site_deletes("?")
DEFAULT_KEY_NAME = "default"  # the key `sites create` prints


class SiteVerbs(ApiKeyVerbs):
    async def create_site(self, name: str, origins: Sequence[str]) -> tuple[Site, str]:
        site_id = secrets.token_hex(8)
        keys = generate_key_pair()
        api_key = new_api_key()
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
                    "",  # NOT NULL in schema 1; '' is no text of the site's own
                    now,
                ),
            )
            key = ApiKey(new_api_key_id(), site_id, DEFAULT_KEY_NAME, now)
            await insert_api_key(db, api_key, key)
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
            # So are event hooks' secrets (issue #12 part 8).
            async with db.execute("SELECT id, secret FROM event_hooks") as cur:
                out = list(await cur.fetchall())
            await db.executemany(
                "UPDATE event_hooks SET secret = ? WHERE id = ?", [(reseal(c), i) for i, c in out]
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

    async def list_sites(self) -> list[Site]:
        rows = await self._all(f"SELECT {_SITE_COLUMNS} FROM sites ORDER BY created_at, id")
        return [_site(row, self._sealer) for row in rows]

    async def update_site(self, site_id: str, change: SiteChange) -> Site | None:
        """Set the fields named in `change.given`, in one statement; None: no such site."""
        values = change_columns(change)
        if values:
            assignments = ", ".join(f"{column} = ?" for column in values)
            try:
                async with self._transaction() as db:
                    await db.execute(
                        f"UPDATE sites SET {assignments} WHERE id = ?", (*values.values(), site_id)
                    )
            except aiosqlite.IntegrityError as exc:  # sites.name is UNIQUE
                raise SiteNameTaken(change.name) from exc
        return await self.get_site(site_id)

    async def delete_site(self, site_id: str) -> bool:
        """Delete the site and every row it owns, in one transaction; False: no such site."""
        async with self._transaction() as db:
            for sql in _DELETES:
                cursor = await db.execute(sql, (site_id,))
        return cursor.rowcount > 0  # the last statement deletes the site's own row

    async def site_for_api_key(self, api_key: str) -> Site | None:
        found = await self.authenticate_api_key(api_key)
        return found[0] if found else None

    async def authenticate_api_key(self, api_key: str) -> tuple[Site, ApiKey] | None:
        """The site and the key an API key is, looked up by its hash."""
        row = await self._one(
            f"SELECT {_SITE_COLUMNS}, {KEY_COLUMNS} FROM sites "
            "JOIN api_keys ON api_keys.site_id = sites.id WHERE api_keys.key_hash = ?",
            (hash_api_key(api_key),),
        )
        if row is None:
            return None
        return _site(row, self._sealer), api_key_of(tuple(row)[_KEY_OFFSET:])

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


def change_columns(change: SiteChange) -> dict[str, object]:
    """The columns (names are constants, never input) and values that `change` sets."""
    values = change.values()
    if "origins" in values:
        values["origins"] = json.dumps(list(change.origins))
    if "prompt_text" in values:
        values["prompt_text"] = change.prompt_text or ""  # NOT NULL: '' for the default
    return values


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


_KEY_OFFSET = _SITE_COLUMNS.count(",") + 1  # where a joined key's columns start


def _site(row: aiosqlite.Row, sealer: Sealer) -> Site:
    keys = VapidKeyPair(private_key=sealer.unseal(row[3]), public_key=row[4])
    return Site(
        id=row[0],
        name=row[1],
        origins=tuple(json.loads(row[2])),
        vapid=keys,
        created_at=row[6],
        prompt_text=row[5] or None,
        default_timezone=row[7],
        quiet_hours=None if row[8] is None else QuietHours(row[8], row[9], bool(row[10])),
        frequency_cap=None if row[11] is None else FrequencyCap(row[11], row[12]),
        prompt_accept=row[13],
        prompt_dismiss=row[14],
        prompt_snooze_days=row[15],
    )
