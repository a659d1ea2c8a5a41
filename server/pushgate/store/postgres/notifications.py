"""PostgreSQL verbs for notifications (mirrors store/sqlite/notifications.py)."""

from __future__ import annotations

from pushgate.store.postgres.connection import PostgresConnections


class NotificationVerbs(PostgresConnections):
    pass
