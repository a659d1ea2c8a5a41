"""The SQLite database and its WAL are readable by their owner only: they hold every key.

The database file is created 0600 (in folders created 0700) before SQLite opens it; SQLite then
gives the -wal and -shm files it creates the database file's mode (os_unix.c, findCreateFileMode).
Files found with looser modes are tightened, and the log says so.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("pushgate.store")

FILE_MODE = 0o600
FOLDER_MODE = 0o700
SIDE_FILES = ("-wal", "-shm", "-journal")
SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file


def prepare_database_file(path: Path) -> None:
    """Create `path` (and missing folders) owner-only, or tighten the modes of what exists."""
    _make_folders(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    if not _empty_or_sqlite(path):
        return  # a mistyped path to someone's other file: refused when opened, its mode kept
    for file in (path, *(path.with_name(path.name + side) for side in SIDE_FILES)):
        _tighten(file)


def _empty_or_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            head = file.read(len(SQLITE_HEADER))
    except OSError:  # a folder, or unreadable: opening it names the error
        return False
    return head in (b"", SQLITE_HEADER)


def _make_folders(folder: Path) -> None:
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        created.mkdir(mode=FOLDER_MODE, exist_ok=True)
        os.chmod(created, FOLDER_MODE)  # mkdir's mode passes through the umask


def _tighten(file: Path) -> None:
    try:
        found = file.stat()
    except FileNotFoundError:
        return
    mode = stat.S_IMODE(found.st_mode)
    if not stat.S_ISREG(found.st_mode) or not mode & ~FILE_MODE:
        return  # a folder given as the database (`sqlite:///tmp`) is refused, never chmodded
    try:
        os.chmod(file, mode & FILE_MODE)
    except PermissionError:
        log.warning("%s is mode %04o and not ours to change: make it 0600", file, mode)
    else:
        log.warning(
            "%s was mode %04o: now %04o (owner only), since it holds keys",
            file,
            mode,
            mode & FILE_MODE,
        )
