"""PostgreSQL verbs for incoming webhooks: as store/sqlite/webhooks.py, in PostgreSQL's SQL."""

from __future__ import annotations

import asyncpg

from pushgate.store.automation_models import Webhook
from pushgate.store.base import WebhookExists
from pushgate.store.postgres.connection import PostgresConnections
from pushgate.store.webhook_rows import (
    COLUMNS,
    definition,
    row_values,
    sealed_secret,
    token_hash,
    webhook_from,
)


class WebhookVerbs(PostgresConnections):
    async def create_webhook(self, webhook: Webhook) -> Webhook:
        """Store a new webhook; WebhookExists when its site has one of that name."""
        async with self._transaction() as conn:
            status = await conn.execute(
                f"INSERT INTO webhooks ({COLUMNS}, token_hash) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                *row_values(webhook, self._sealer),
            )
            if status == "INSERT 0 0":
                raise WebhookExists(webhook.name)
        return webhook

    async def get_webhook(self, site_id: str, webhook_id: str) -> Webhook | None:
        row = await self._one(
            f"SELECT {COLUMNS} FROM webhooks WHERE site_id = $1 AND id = $2", site_id, webhook_id
        )
        return webhook_from(row, self._sealer) if row else None

    async def list_webhooks(self, site_id: str) -> list[Webhook]:
        rows = await self._all(
            f"SELECT {COLUMNS} FROM webhooks WHERE site_id = $1 ORDER BY created_at, id", site_id
        )
        return [webhook_from(row, self._sealer) for row in rows]

    async def webhook_by_token(self, token: str) -> Webhook | None:
        row = await self._one(
            f"SELECT {COLUMNS} FROM webhooks WHERE token_hash = $1", token_hash(token)
        )
        return webhook_from(row, self._sealer) if row else None

    async def replace_webhook(self, webhook: Webhook) -> Webhook | None:
        """Its name, secret and definition; None when the site has no such webhook,
        WebhookExists when another of its webhooks has the new name."""
        try:
            async with self._transaction() as conn:
                status = await conn.execute(
                    "UPDATE webhooks SET name = $1, secret = $2, definition = $3, "
                    "updated_at = $4 WHERE site_id = $5 AND id = $6",
                    webhook.name,
                    sealed_secret(webhook, self._sealer),
                    definition(webhook),
                    webhook.updated_at,
                    webhook.site_id,
                    webhook.id,
                )
        except asyncpg.UniqueViolationError:
            raise WebhookExists(webhook.name) from None
        return webhook if status != "UPDATE 0" else None

    async def delete_webhook(self, site_id: str, webhook_id: str) -> bool:
        async with self._transaction() as conn:
            status = await conn.execute(
                "DELETE FROM webhooks WHERE site_id = $1 AND id = $2", site_id, webhook_id
            )
        return bool(status != "DELETE 0")
