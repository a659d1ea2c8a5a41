"""The database, its WAL and shared-memory files, and the folder made for them: owner only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from pushgate.settings import Settings
from pushgate.store import open_store


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


async def test_new_database_wal_shm_and_folders_are_owner_only(
    tmp_path: Path, loose_umask: None
) -> None:
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv").chmod(0o755)
    path = tmp_path / "srv" / "var" / "lib" / "pushgate.db"
    async with open_store(Settings(database=f"sqlite:///{path}")) as store:
        await store.create_site("news", ["https://news.example"])
        files = sorted(p.name for p in path.parent.iterdir())
        assert files == ["pushgate.db", "pushgate.db-shm", "pushgate.db-wal"]
        assert {p.name: mode(p) for p in path.parent.iterdir()} == dict.fromkeys(files, 0o600)
    assert mode(path.parent) == mode(path.parent.parent) == 0o700
    assert mode(tmp_path / "srv") == 0o755  # a folder that existed is left alone


async def test_existing_loose_database_files_are_tightened_and_logged(
    tmp_path: Path, loose_umask: None, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "pushgate.db"
    async with open_store(Settings(database=f"sqlite:///{path}")):
        pass
    path.chmod(0o644)
    (tmp_path / "pushgate.db-wal").touch(mode=0o666)
    (tmp_path / "pushgate.db-wal").chmod(0o666)
    async with open_store(Settings(database=f"sqlite:///{path}")) as store:
        await store.create_site("news", ["https://news.example"])
        assert {p.name: mode(p) for p in tmp_path.iterdir()} == {
            "pushgate.db": 0o600,
            "pushgate.db-wal": 0o600,
            "pushgate.db-shm": 0o600,
        }
    assert "pushgate.db was mode 0644: now 0600" in caplog.text
    assert "pushgate.db-wal was mode 0666: now 0600" in caplog.text


async def test_a_folder_given_as_the_database_is_refused_and_its_mode_left_alone(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o1777)  # as /tmp is: a mistyped `sqlite:///tmp` must not lock everyone out
    with pytest.raises(Exception):  # noqa: B017 - refused, whichever error names it
        async with open_store(Settings(database=f"sqlite:///{folder}")):
            pass
    assert mode(folder) == 0o1777


async def test_a_file_that_is_not_a_database_is_refused_and_its_mode_left_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"These are my notes, not a database. " * 100)
    notes.chmod(0o644)  # a mistyped --database must not take a file away from its readers
    with pytest.raises(Exception):  # noqa: B017 - refused, whichever error names it
        async with open_store(Settings(database=f"sqlite:///{notes}")):
            pass
    assert mode(notes) == 0o644
    assert "now 0600" not in caplog.text
