"""PostgreSQL backend on asyncpg: a connection pool, short transactions, and work leased from
the database, so that many gateways and send workers share one database.

The verbs are grouped as in the SQLite backend (sites, subscriptions, notifications,
deliveries, claims, segments), each group in its own module over the shared pool."""

from pushgate.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
