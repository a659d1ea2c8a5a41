"""PostgreSQL verbs for sites (mirrors store/sqlite/sites.py)."""

from __future__ import annotations

from pushgate.store.postgres.connection import PostgresConnections


class SiteVerbs(PostgresConnections):
    pass
