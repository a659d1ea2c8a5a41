"""SQLite backend on aiosqlite: WAL, foreign keys, one writer connection, one reader connection.

The verbs are grouped by what they touch (sites, subscriptions, notifications, deliveries),
each group in its own module over the shared connections."""

from pushgate.store.base import SchemaTooNew
from pushgate.store.sqlite.sites import hash_api_key
from pushgate.store.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore", "SchemaTooNew", "hash_api_key"]
