"""PostgreSQL verbs for deliveries (mirrors store/sqlite/deliveries.py)."""

from __future__ import annotations

from pushgate.store.postgres.connection import PostgresConnections


class DeliveryVerbs(PostgresConnections):
    pass
