"""PostgreSQL verbs for claims (mirrors store/sqlite/claims.py)."""

from __future__ import annotations

from pushgate.store.postgres.connection import PostgresConnections


class ClaimVerbs(PostgresConnections):
    pass
