"""The benchmark's PostgreSQL server, for its rows on PostgreSQL (issue #10): the tests' local
server (pushgate.testing.postgres) but with PostgreSQL's durable defaults (fsync,
full_page_writes and synchronous_commit on). pushgate itself turns synchronous_commit off only
for its engine's bookkeeping.

`cpu_seconds()` is the CPU time of the whole server: the postmaster and every child (backends,
WAL writer, checkpointer, autovacuum), those already reaped included.

`PUSHGATE_BENCH_PG_STATEMENTS=1` loads pg_stat_statements and writes, when the server stops,
the statements that took the most time (bench/out/pg_statements.txt): where PostgreSQL's CPU
per message goes; the plans of statements slower than 5 ms and lock waits longer than 50 ms go
to the server's log (bench/out/pg_server.log).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bench import procstat
from pushgate.testing.postgres import LocalPostgres

MAX_CONNECTIONS = 200
PROFILE_ENV = "PUSHGATE_BENCH_PG_STATEMENTS"
PROFILE_OPTIONS = (
    "-c shared_preload_libraries=pg_stat_statements,auto_explain -c pg_stat_statements.max=1000 "
    "-c auto_explain.log_min_duration=5 -c log_lock_waits=on -c deadlock_timeout=50"
)
TOP_STATEMENTS = 25
STATEMENTS_QUERY = (
    "SELECT round(total_exec_time::numeric, 1) AS ms, calls, rows, "
    "round((total_exec_time / GREATEST(calls, 1))::numeric, 3) AS ms_per_call, "
    "left(regexp_replace(query, '\\s+', ' ', 'g'), 300) AS query "
    f"FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT {TOP_STATEMENTS}"
)


class BenchPostgres(LocalPostgres):
    def __init__(self, port: int, profile_to: Path | None = None) -> None:
        self.profile_to = profile_to if os.environ.get(PROFILE_ENV) == "1" else None
        super().__init__(
            port,
            durable=True,
            max_connections=MAX_CONNECTIONS,
            extra_options=PROFILE_OPTIONS if self.profile_to else "",
        )

    def cpu_seconds(self) -> float:
        """User + system time of the postmaster and all its children, so far."""
        return procstat.cpu_seconds(procstat.tree(self.postmaster_pid))

    def stop(self) -> None:
        if self.profile_to is not None:
            self.sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            self.profile_to.write_text(self.sql(STATEMENTS_QUERY))
            shutil.copy(self.root / "server.log", self.profile_to.with_name("pg_server.log"))
        super().stop()
