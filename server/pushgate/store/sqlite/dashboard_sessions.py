"""SQLite verbs for dashboard sessions (only a hash of the cookie is kept) and failed logins."""

from __future__ import annotations

from collections.abc import Sequence

from pushgate.store.operator_rows import DashboardSession
from pushgate.store.sqlite.operators import OperatorVerbs


class DashboardSessionVerbs(OperatorVerbs):
    """Sessions read their operator, so these verbs include the operator verbs."""

    async def create_dashboard_session(
        self, token_hash: str, operator_id: str, csrf_token: str, now: float, expires_at: float
    ) -> None:
        """Store a session; expired ones are deleted in the same write."""
        async with self._transaction() as db:
            await db.execute("DELETE FROM dashboard_sessions WHERE expires_at <= ?", (now,))
            await db.execute(
                "INSERT INTO dashboard_sessions "
                "(token_hash, operator_id, csrf_token, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (token_hash, operator_id, csrf_token, now, expires_at),
            )

    async def dashboard_session(self, token_hash: str, now: float) -> DashboardSession | None:
        """The session and its operator, unless it has expired or was ended."""
        row = await self._one(
            "SELECT csrf_token, created_at, expires_at, operator_id FROM dashboard_sessions "
            "WHERE token_hash = ? AND expires_at > ?",
            (token_hash, now),
        )
        if row is None:
            return None
        operator = await self.get_operator(row[3])
        if operator is None:  # deleted between the two reads
            return None
        return DashboardSession(token_hash, operator, row[0], row[1], row[2])

    async def end_dashboard_session(self, token_hash: str) -> None:
        async with self._transaction() as db:
            await db.execute("DELETE FROM dashboard_sessions WHERE token_hash = ?", (token_hash,))

    async def record_login_failure(
        self, subjects: Sequence[str], now: float, *, forget_before: float
    ) -> None:
        """One failed login for each subject; failures older than `forget_before` go."""
        async with self._transaction() as db:
            await db.execute("DELETE FROM login_failures WHERE at < ?", (forget_before,))
            await db.executemany(
                "INSERT INTO login_failures (subject, at) VALUES (?, ?)",
                [(subject, now) for subject in subjects],
            )

    async def login_failures(
        self, subjects: Sequence[str], since: float
    ) -> list[tuple[str, float]]:
        """(subject, time) of each failure of `subjects` at or after `since`, oldest first."""
        if not subjects:
            return []
        marks = ", ".join("?" * len(subjects))
        rows = await self._all(
            f"SELECT subject, at FROM login_failures WHERE subject IN ({marks}) AND at >= ? "
            "ORDER BY at",
            (*subjects, since),
        )
        return [(row[0], float(row[1])) for row in rows]

    async def forget_login_failures(self, subject: str) -> None:
        async with self._transaction() as db:
            await db.execute("DELETE FROM login_failures WHERE subject = ?", (subject,))
