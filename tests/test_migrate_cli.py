"""`pushgate migrate` as an operator runs it, on both backends: a new database set up, then
nothing to do; an older SQLite schema brought up; a newer schema, an unreachable server and a
password in the URL each a one-line error that shows no password."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
import pytest

from pushgate.store.migrations import MIGRATIONS, SCHEMA_VERSION
from tests.conftest import free_port
from tests.test_cli import run


def shown(url: str) -> str:
    return url.replace(":s3cret@", ":***@")


async def schema_of(url: str) -> int:
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return int(db.execute("PRAGMA user_version").fetchone()[0])
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT version FROM schema_version"))
    finally:
        await conn.close()


async def set_schema(url: str, version: int) -> None:
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            db.execute(f"PRAGMA user_version = {version}")
        return
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("UPDATE schema_version SET version = $1", version)
    finally:
        await conn.close()


def assert_one_line_error(out: object, *words: str) -> None:
    assert getattr(out, "returncode", None) == 1
    stderr = str(getattr(out, "stderr", ""))
    assert stderr.startswith("Error: ") and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr and "s3cret" not in stderr, stderr
    for word in words:
        assert word in stderr, stderr


async def test_migrate_sets_up_a_new_database_then_has_nothing_to_do(
    database_url: str, tmp_path: Path
) -> None:
    first = run("migrate", "--database", database_url, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == f"migrated {database_url} from schema 0 to {SCHEMA_VERSION}\n"
    assert await schema_of(database_url) == SCHEMA_VERSION

    again = run("migrate", cwd=tmp_path, PUSHGATE_DATABASE=database_url)  # the env spelling
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"{database_url} is at schema {SCHEMA_VERSION}: nothing to do\n"


async def test_migrate_refuses_a_schema_newer_than_the_code_and_leaves_it(
    database_url: str, tmp_path: Path
) -> None:
    assert run("migrate", "--database", database_url, cwd=tmp_path).returncode == 0
    await set_schema(database_url, 99)

    out = run("migrate", "--database", database_url, cwd=tmp_path)
    assert_one_line_error(out, database_url, "schema version 99", "Upgrade pushgate")
    assert out.stdout == ""
    assert await schema_of(database_url) == 99


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_migrate_brings_an_older_sqlite_schema_to_the_current_one(
    tmp_path: Path, version: int
) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        for script in MIGRATIONS[:version]:
            db.executescript(script)
        db.execute(f"PRAGMA user_version = {version}")
    out = run("migrate", "--database", f"sqlite:///{path}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"migrated sqlite:///{path} from schema {version} to {SCHEMA_VERSION}\n"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = {row[1] for row in db.execute("PRAGMA table_info(subscriptions)")}
    assert "push_service" in columns  # the last migration ran


async def test_migrate_prints_a_postgresql_url_without_its_password(
    postgres_url: str, tmp_path: Path
) -> None:
    # The test server trusts every local connection, so the password is accepted and unused.
    url = postgres_url.replace("postgres@", "postgres:s3cret@")
    out = run("migrate", "--database", url, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"migrated {shown(url)} from schema 0 to {SCHEMA_VERSION}\n"
    assert "s3cret" not in out.stdout + out.stderr


def test_migrate_on_an_unreachable_server_is_one_line_without_the_password(
    tmp_path: Path,
) -> None:
    url = f"postgresql://pushgate:s3cret@127.0.0.1:{free_port()}/pushgate"
    out = run("migrate", "--database", url, cwd=tmp_path)
    assert_one_line_error(out, shown(url))


def test_migrate_on_a_file_that_is_not_a_database_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"not a database, but long enough to have a header " * 40)
    path.chmod(0o600)  # else the mode's tightening is logged first
    out = run("migrate", "--database", f"sqlite:///{path}", cwd=tmp_path)
    assert_one_line_error(out, str(path), "not a database")
