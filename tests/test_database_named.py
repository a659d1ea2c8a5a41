"""A mistyped database is caught by what the commands say: an empty listing names the database
it read, and a bare file path is answered with the URL that names it."""

from __future__ import annotations

from pathlib import Path

from tests.test_cli_errors import run


def test_an_empty_listing_names_its_database(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'typo.db'}"
    out = run("sites", "list", "--database", database, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"no sites yet in {database}: pushgate sites create"), out.stdout


def test_an_empty_postgresql_listing_hides_the_password() -> None:
    from pushgate.settings import shown_database

    shown = shown_database("postgresql://pushgate:s3cret@127.0.0.1:5432/pushgate")
    assert shown == "postgresql://pushgate:***@127.0.0.1:5432/pushgate"


def test_a_bare_file_path_is_answered_with_its_url(tmp_path: Path) -> None:
    path = tmp_path / "pushgate.db"
    out = run("sites", "list", "--database", str(path), cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    line = out.stderr.strip().splitlines()[-1]  # after Click's usage lines
    assert line.startswith("Error: PUSHGATE_DATABASE must be sqlite:///PATH"), line
    assert line.endswith(f"(a file: sqlite:///{path})"), line  # sqlite://// for /tmp/…
    assert not path.exists()
