"""A throwaway PostgreSQL server for tests and the benchmark: Debian's newest server binaries,
a data directory in a temporary folder (owned by the `postgres` user when run as root: the
server refuses to run as root), listening on 127.0.0.1 only. Removed on `stop()`.

`durable=False` (the tests) turns fsync and full-page writes off: a server thrown away needs
no durability, and each CREATE DATABASE and commit is then fast. `durable=True` (the
benchmark) keeps PostgreSQL's defaults: a benchmark of a database that may lose its commits
would flatter it."""

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


class LocalPostgres:
    """One PostgreSQL server on `port` of 127.0.0.1."""

    def __init__(
        self,
        port: int,
        *,
        durable: bool = False,
        max_connections: int = 300,
        extra_options: str = "",
    ) -> None:
        self.port, self.durable, self.max_connections = port, durable, max_connections
        self.extra_options = extra_options  # more `-c name=value` for the server
        self.bin = server_binaries()
        self.root = Path(tempfile.mkdtemp(prefix="pushgate-pg-"))
        self.data = self.root / "data"
        self._names = itertools.count(1)
        self._as_root = os.geteuid() == 0

    def start(self) -> None:
        if self._as_root:
            user = pwd.getpwnam(SERVER_USER)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        sync = () if self.durable else ("--no-sync",)
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", *sync)
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            f"-c max_connections={self.max_connections}"
        )
        if not self.durable:
            options += " -c fsync=off -c full_page_writes=off"
        if self.extra_options:
            options += " " + self.extra_options
        self._run(
            "pg_ctl", "-D", self.data, "-o", options, "-l", self.root / "server.log",
            "-w", "-t", str(START_TIMEOUT_SECONDS), "start",
        )  # fmt: skip

    def stop(self) -> None:
        mode = "fast" if self.durable else "immediate"
        try:
            self._run("pg_ctl", "-D", self.data, "-m", mode, "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new, empty database (`name`, dropped first if it exists, or the next test_N);
        its URL."""
        if name is None:
            name = f"test_{next(self._names)}"
        else:
            self.sql(f"DROP DATABASE IF EXISTS {name}")
        self.sql(f"CREATE DATABASE {name}")
        return self.url(name)

    def sql(self, statement: str, database: str = "postgres") -> str:
        done = subprocess.run(
            [self.bin / "psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", statement,
             self.url(database)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout.strip()

    @property
    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def _run(self, program: str, *args: str | Path) -> None:
        command = [str(self.bin / program), *map(str, args)]
        if self._as_root:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.root)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{program} failed: {done.stderr or done.stdout}\n{tail}")
