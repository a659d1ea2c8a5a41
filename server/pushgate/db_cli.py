"""`pushgate migrate` and `pushgate copy-db`: the database's schema, and moving an
installation from SQLite to PostgreSQL."""

from __future__ import annotations

import click


@click.group("db", hidden=True)
def db_commands() -> None:
    """Placeholder group: the commands below are registered on the main group."""


COMMANDS: list[click.Command] = []
