"""The benchmark's PostgreSQL server, for its rows on PostgreSQL (issue #10): the tests' local
server (pushgate.testing.postgres) but with PostgreSQL's durable defaults (fsync,
full_page_writes and synchronous_commit on). pushgate itself turns synchronous_commit off only
for its engine's bookkeeping.

`cpu_seconds()` is the CPU time of the whole server: the postmaster and every child (backends,
WAL writer, checkpointer, autovacuum), those already reaped included.
"""

from __future__ import annotations

from bench import procstat
from pushgate.testing.postgres import LocalPostgres

MAX_CONNECTIONS = 200


class BenchPostgres(LocalPostgres):
    def __init__(self, port: int) -> None:
        super().__init__(port, durable=True, max_connections=MAX_CONNECTIONS)

    def cpu_seconds(self) -> float:
        """User + system time of the postmaster and all its children, so far."""
        return procstat.cpu_seconds(procstat.tree(self.postmaster_pid))
