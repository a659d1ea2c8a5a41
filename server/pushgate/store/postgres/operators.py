"""PostgreSQL verbs for dashboard operators and the sites the dashboard lists (mirrors
store/sqlite/operators.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import asyncpg

from pushgate.store.operator_rows import Operator, OperatorExists, SiteSummary
from pushgate.store.postgres.connection import PostgresConnections

OPERATOR_COLUMNS = "id, email, role, password_hash, created_at, updated_at"


class OperatorVerbs(PostgresConnections):
    async def create_operator(self, operator: Operator) -> Operator:
        """Store an operator and its sites; OperatorExists if the email is taken."""
        async with self._transaction() as db:
            inserted = await db.fetchval(
                f"INSERT INTO operators ({OPERATOR_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) "
                "ON CONFLICT (email) DO NOTHING RETURNING id",
                operator.id,
                operator.email,
                operator.role,
                operator.password_hash,
                operator.created_at,
                operator.updated_at,
            )
            if inserted is None:
                raise OperatorExists(operator.email)
            await db.executemany(
                "INSERT INTO operator_sites (operator_id, site_id) VALUES ($1, $2)",
                [(operator.id, site_id) for site_id in operator.site_ids],
            )
        return operator

    async def get_operator(self, operator_id: str) -> Operator | None:
        return await self._operator_where("id = $1", operator_id)

    async def operator_by_email(self, email: str) -> Operator | None:
        return await self._operator_where("email = $1", email)

    async def list_operators(self) -> list[Operator]:
        rows = await self._all(f"SELECT {OPERATOR_COLUMNS} FROM operators ORDER BY email")
        sites = await self._all("SELECT operator_id, site_id FROM operator_sites ORDER BY site_id")
        return [_operator(row, [s[1] for s in sites if s[0] == row[0]]) for row in rows]

    async def delete_operator(self, email: str) -> bool:
        """Delete the operator; its sessions and site links go with it (ON DELETE CASCADE)."""
        async with self._transaction() as db:
            deleted = await db.fetchval(
                "DELETE FROM operators WHERE email = $1 RETURNING id", email
            )
            return deleted is not None

    async def set_operator_password(
        self, operator_id: str, password_hash: str, now: float, *, end_sessions: bool
    ) -> bool:
        """Replace the password hash; `end_sessions` also logs the operator out everywhere."""
        async with self._transaction() as db:
            updated = await db.fetchval(
                "UPDATE operators SET password_hash = $1, updated_at = $2 WHERE id = $3 "
                "RETURNING id",
                password_hash,
                now,
                operator_id,
            )
            if end_sessions:
                await db.execute(
                    "DELETE FROM dashboard_sessions WHERE operator_id = $1", operator_id
                )
            return updated is not None

    async def site_summaries(self, site_ids: Sequence[str] | None) -> list[SiteSummary]:
        """The sites named (None: every site) by name, with their subscriber counts."""
        if site_ids is not None and not site_ids:
            return []
        where = "" if site_ids is None else "WHERE sites.id = ANY($1::text[])"
        rows = await self._all(
            "SELECT sites.id, sites.name, sites.origins, sites.created_at, "
            "(SELECT COUNT(*) FROM subscriptions WHERE subscriptions.site_id = sites.id) "
            f"FROM sites {where} ORDER BY sites.name, sites.id",
            *([] if site_ids is None else [list(site_ids)]),
        )
        return [SiteSummary(r[0], r[1], tuple(json.loads(r[2])), int(r[4]), r[3]) for r in rows]

    async def _operator_where(self, condition: str, value: str) -> Operator | None:
        row = await self._one(f"SELECT {OPERATOR_COLUMNS} FROM operators WHERE {condition}", value)
        if row is None:
            return None
        sites = await self._all(
            "SELECT site_id FROM operator_sites WHERE operator_id = $1 ORDER BY site_id", row[0]
        )
        return _operator(row, [s[0] for s in sites])


def _operator(row: asyncpg.Record, site_ids: Sequence[str]) -> Operator:
    return Operator(row[0], row[1], row[2], row[3], row[4], row[5], tuple(site_ids))
