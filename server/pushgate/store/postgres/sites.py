"""PostgreSQL verbs for sites: VAPID keys (sealed at rest), API keys (hashed), origins, the
soft prompt's words, the event-token secret; deleting a site with every row it owns (mirrors
store/sqlite/sites.py)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence

import asyncpg

from pushgate.store.base import SiteNameTaken
from pushgate.store.models import ApiKey, FrequencyCap, QuietHours, Site, SiteChange, SiteRules
from pushgate.store.postgres.api_keys import ApiKeyVerbs, api_key_of, insert_api_key
from pushgate.store.sealing import Sealer
from pushgate.store.site_data import site_deletes
from pushgate.store.sqlite.api_keys import (
    KEY_COLUMNS,
    hash_api_key,
    new_api_key,
    new_api_key_id,
)
from pushgate.store.sqlite.sites import DEFAULT_KEY_NAME, change_columns
from pushgate.webpush.vapid import VapidKeyPair, generate_key_pair

_SITE_COLUMNS = (
    "sites.id, sites.name, origins, vapid_private_key, vapid_public_key, prompt_text, "
    "sites.created_at, "
    "default_timezone, quiet_hours_start, quiet_hours_end, quiet_hours_allow_high_urgency, "
    "frequency_cap_max, frequency_cap_period, prompt_accept, prompt_dismiss, prompt_snooze_days"
)
_KEY_OFFSET = _SITE_COLUMNS.count(",") + 1  # where a joined key's columns start
_NOTIFICATION_KEYS = "SELECT key FROM notifications WHERE site_id = $1"
_DELETES = site_deletes("$1")


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
                "prompt_text, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                site_id,
                name,
                json.dumps(list(origins)),
                self._sealer.seal(keys.private_key),
                keys.public_key,
                "",  # NOT NULL in the first schema; '' is no text of the site's own
                now,
            )
            key = ApiKey(new_api_key_id(), site_id, DEFAULT_KEY_NAME, now)
            await insert_api_key(db, api_key, key)
        return site, api_key

    async def reseal_site_keys(self) -> int:
        """Seal every site's VAPID private key (and webhook token and secret) again with the
        newest key, in one transaction.
        The rows stay locked until the commit, so no other gateway rewrites them meanwhile.
        (Unlike SQLite's secure_delete, PostgreSQL keeps old row versions until VACUUM.)"""
        async with self._transaction() as db:
            rows = await db.fetch("SELECT id, vapid_private_key FROM sites FOR UPDATE")
            await db.execute(
                "UPDATE sites SET vapid_private_key = r.sealed "
                "FROM unnest($1::text[], $2::text[]) AS r(id, sealed) WHERE sites.id = r.id",
                [row["id"] for row in rows],
                [self._sealer.reseal(row["vapid_private_key"]) for row in rows],
            )
            # Webhooks' URL tokens and signing secrets are sealed with the same keys.
            hooks = await db.fetch("SELECT id, token, secret FROM webhooks FOR UPDATE")
            reseal = self._sealer.reseal
            await db.executemany(
                "UPDATE webhooks SET token = $1, secret = $2 WHERE id = $3",
                [(reseal(t), None if c is None else reseal(c), i) for i, t, c in hooks],
            )
            # So are event hooks' secrets (issue #12 part 8).
            out = await db.fetch("SELECT id, secret FROM event_hooks FOR UPDATE")
            await db.executemany(
                "UPDATE event_hooks SET secret = $1 WHERE id = $2", [(reseal(c), i) for i, c in out]
            )
        return len(rows)

    async def _check_site_keys(self) -> None:
        rows = await self._all("SELECT vapid_private_key FROM sites")
        self._sealer.check([row[0] for row in rows])

    async def get_site(self, site_id: str) -> Site | None:
        row = await self._one(f"SELECT {_SITE_COLUMNS} FROM sites WHERE id = $1", site_id)
        return _site(row, self._sealer) if row else None

    async def find_site_by_name(self, name: str) -> Site | None:
        row = await self._one(f"SELECT {_SITE_COLUMNS} FROM sites WHERE name = $1", name)
        return _site(row, self._sealer) if row else None

    async def update_site_rules(self, site_id: str, rules: SiteRules) -> Site | None:
        """Set the rules named in `rules.given`, in one statement; None: no such site."""
        values = _rule_columns(rules)
        if values:
            assignments = ", ".join(f"{column} = ${n}" for n, column in enumerate(values, 1))
            async with self._transaction() as db:
                await db.execute(
                    f"UPDATE sites SET {assignments} WHERE id = ${len(values) + 1}",
                    *values.values(),
                    site_id,
                )
        return await self.get_site(site_id)

    async def list_sites(self) -> list[Site]:
        rows = await self._all(f"SELECT {_SITE_COLUMNS} FROM sites ORDER BY created_at, id")
        return [_site(row, self._sealer) for row in rows]

    async def update_site(self, site_id: str, change: SiteChange) -> Site | None:
        """Set the fields named in `change.given`, in one statement; None: no such site."""
        values = change_columns(change)
        if values:
            assignments = ", ".join(f"{column} = ${n}" for n, column in enumerate(values, 1))
            try:
                async with self._transaction() as db:
                    await db.execute(
                        f"UPDATE sites SET {assignments} WHERE id = ${len(values) + 1}",
                        *values.values(),
                        site_id,
                    )
            except asyncpg.UniqueViolationError as exc:  # sites.name is UNIQUE
                raise SiteNameTaken(change.name) from exc
        return await self.get_site(site_id)

    async def delete_site(self, site_id: str) -> bool:
        """Delete the site and every row it owns, in one transaction; False: no such site."""
        async with self._transaction() as db:
            await db.execute("SELECT 1 FROM sites WHERE id = $1 FOR UPDATE", site_id)
            keys = [r[0] for r in await db.fetch(_NOTIFICATION_KEYS, site_id)]
            for sql in _DELETES:
                status = await db.execute(sql, site_id)
            # Deliveries have no foreign key: an expansion that held its notification row
            # while the first delete read them committed its batch before the notification's
            # delete went on; this finds that batch. A later expansion finds no notification.
            await db.execute("DELETE FROM deliveries WHERE notification_key = ANY($1)", keys)
        return str(status) != "DELETE 0"  # the last statement deletes the site's own row

    async def site_for_api_key(self, api_key: str) -> Site | None:
        found = await self.authenticate_api_key(api_key)
        return found[0] if found else None

    async def authenticate_api_key(self, api_key: str) -> tuple[Site, ApiKey] | None:
        """The site and the key an API key is, looked up by its hash."""
        row = await self._one(
            f"SELECT {_SITE_COLUMNS}, {KEY_COLUMNS} FROM sites "
            "JOIN api_keys ON api_keys.site_id = sites.id WHERE api_keys.key_hash = $1",
            hash_api_key(api_key),
        )
        if row is None:
            return None
        return _site(row, self._sealer), api_key_of(tuple(row)[_KEY_OFFSET:])

    async def origin_is_registered(self, origin: str) -> bool:
        row = await self._one("SELECT 1 FROM sites WHERE sites.origins::jsonb ? $1 LIMIT 1", origin)
        return row is not None

    async def event_secret(self) -> bytes:
        """The secret that signs event tokens, made once for the whole cluster: gateways that
        start together each try to insert theirs, and all read the one that was committed."""
        if self._secret is None:
            async with self._transaction() as db:
                await db.execute(
                    "INSERT INTO meta VALUES ('event_secret', $1) ON CONFLICT (key) DO NOTHING",
                    secrets.token_bytes(32),
                )
                value = await db.fetchval("SELECT value FROM meta WHERE key = 'event_secret'")
            assert value is not None
            self._secret = bytes(value)
        return self._secret


def _rule_columns(rules: SiteRules) -> dict[str, object]:
    """The columns (names are constants, never input) and values that `rules` sets. A copy of
    the SQLite one but for the flag, which PostgreSQL keeps as a real boolean."""
    values: dict[str, object] = {}
    if "default_timezone" in rules.given:
        values["default_timezone"] = rules.default_timezone
    if "quiet_hours" in rules.given:
        quiet = rules.quiet_hours
        values["quiet_hours_start"] = None if quiet is None else quiet.start
        values["quiet_hours_end"] = None if quiet is None else quiet.end
        values["quiet_hours_allow_high_urgency"] = quiet is not None and quiet.allow_high_urgency
    if "frequency_cap" in rules.given:
        cap = rules.frequency_cap
        values["frequency_cap_max"] = None if cap is None else cap.max
        values["frequency_cap_period"] = None if cap is None else cap.period
    return values


def _site(row: asyncpg.Record, sealer: Sealer) -> Site:
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
