"""PostgreSQL verbs for subscriptions (mirrors store/sqlite/subscriptions.py)."""

from __future__ import annotations

from pushgate.store.postgres.connection import PostgresConnections


class SubscriptionVerbs(PostgresConnections):
    pass
