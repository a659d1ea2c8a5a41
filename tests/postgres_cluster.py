"""A throwaway PostgreSQL cluster for the tests: Debian's server binaries, a data directory in
a temporary folder owned by the `postgres` user (the server refuses to run as root), listening
on 127.0.0.1 only, and a fresh database per test. Removed when the session ends.

No PostgreSQL installed is a failure, not a skip: `make test` installs it (Makefile)."""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

SERVER_USER = "postgres"
START_TIMEOUT_SECONDS = 30


def server_binaries() -> Path:
    """The newest Debian PostgreSQL's bin folder."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed: `make test` installs Debian's postgresql package "
            "(apt-get install postgresql)"
        )
    return found[-1].parent


class PostgresCluster:
    def __init__(self, port: int) -> None:
        self.port = port
        self.bin = server_binaries()
        self.root = Path(tempfile.mkdtemp(prefix="pushgate-pg-"))
        self.data = self.root / "data"
        self._names = itertools.count(1)
        self._as_root = os.geteuid() == 0

    def start(self) -> None:
        if self._as_root:
            user = pwd.getpwnam(SERVER_USER)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "--no-sync")
        # Tests need no durability from the server they throw away: no fsync makes each
        # CREATE DATABASE and commit fast. Production keeps PostgreSQL's defaults.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
            "-c full_page_writes=off -c max_connections=300"
        )
        self._run(
            "pg_ctl", "-D", self.data, "-o", options, "-l", self.root / "server.log",
            "-w", "-t", str(START_TIMEOUT_SECONDS), "start",
        )  # fmt: skip

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new, empty database; its URL."""
        name = f"test_{next(self._names)}"
        self.sql(f"CREATE DATABASE {name}")
        return self.url(name)

    def sql(self, statement: str, database: str = "postgres") -> str:
        done = subprocess.run(
            [self.bin / "psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", statement,
             self.url(database)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout.strip()

    def _run(self, program: str, *args: str | Path) -> None:
        command = [str(self.bin / program), *map(str, args)]
        if self._as_root:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.root)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{program} failed: {done.stderr or done.stdout}\n{tail}")
