"""PostgreSQL verbs for segments (mirrors store/sqlite/segments.py)."""

from __future__ import annotations

from pushgate.store.postgres.connection import PostgresConnections


class SegmentVerbs(PostgresConnections):
    pass
