"""SQLite verbs for incoming webhooks (rows as store/webhook_rows.py makes them)."""

from __future__ import annotations

import aiosqlite

from pushgate.store.automation_models import Webhook
from pushgate.store.base import WebhookExists
from pushgate.store.sqlite.connection import SQLiteConnections
from pushgate.store.webhook_rows import (
    COLUMNS,
    definition,
    row_values,
    sealed_secret,
    token_hash,
    webhook_from,
)


class WebhookVerbs(SQLiteConnections):
    async def create_webhook(self, webhook: Webhook) -> Webhook:
        """Store a new webhook; WebhookExists when its site has one of that name."""
        async with self._transaction() as db:
            cur = await db.execute(
                f"INSERT OR IGNORE INTO webhooks ({COLUMNS}, token_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row_values(webhook, self._sealer),
            )
            if cur.rowcount == 0:
                raise WebhookExists(webhook.name)
        return webhook

    async def get_webhook(self, site_id: str, webhook_id: str) -> Webhook | None:
        row = await self._one(
            f"SELECT {COLUMNS} FROM webhooks WHERE site_id = ? AND id = ?", (site_id, webhook_id)
        )
        return webhook_from(row, self._sealer) if row else None

    async def list_webhooks(self, site_id: str) -> list[Webhook]:
        rows = await self._all(
            f"SELECT {COLUMNS} FROM webhooks WHERE site_id = ? ORDER BY created_at, id",
            (site_id,),
        )
        return [webhook_from(row, self._sealer) for row in rows]

    async def webhook_by_token(self, token: str) -> Webhook | None:
        row = await self._one(
            f"SELECT {COLUMNS} FROM webhooks WHERE token_hash = ?", (token_hash(token),)
        )
        return webhook_from(row, self._sealer) if row else None

    async def replace_webhook(self, webhook: Webhook) -> Webhook | None:
        """Its name, secret and definition; None when the site has no such webhook,
        WebhookExists when another of its webhooks has the new name."""
        async with self._transaction() as db:
            try:
                cur = await db.execute(
                    "UPDATE webhooks SET name = ?, secret = ?, definition = ?, updated_at = ? "
                    "WHERE site_id = ? AND id = ?",
                    (
                        webhook.name,
                        sealed_secret(webhook, self._sealer),
                        definition(webhook),
                        webhook.updated_at,
                        webhook.site_id,
                        webhook.id,
                    ),
                )
            except aiosqlite.IntegrityError:
                raise WebhookExists(webhook.name) from None
        return webhook if cur.rowcount else None

    async def delete_webhook(self, site_id: str, webhook_id: str) -> bool:
        async with self._transaction() as db:
            cur = await db.execute(
                "DELETE FROM webhooks WHERE site_id = ? AND id = ?", (site_id, webhook_id)
            )
        return cur.rowcount > 0
