"""The wall clock that scheduling reads: due times, TTLs, quiet hours, caps and throttles.

One clock, injected from the app into the delivery engine and the API, so that tests drive time
instead of waiting for it. In production it is `time.time`. A test that runs a real `pushgate
serve` process sets PUSHGATE_TEST_CLOCK_FILE to a file holding the current epoch seconds, and
moves time by rewriting the file. That clock is for tests only: nothing turns it on but that
environment variable, and the server logs a warning when it is on. Protocol time stays real:
VAPID JWTs expire by the push service's clock, never by this one.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

log = logging.getLogger("pushgate")

WallClock = Callable[[], float]  # seconds since the epoch
TEST_CLOCK_ENV = "PUSHGATE_TEST_CLOCK_FILE"


class FileClock:
    """Epoch seconds read from a file, read again whenever the file changes (test-only)."""

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._seen: tuple[int, int, int] | None = None
        self._now = 0.0
        self()  # a missing or malformed file fails at start, not at the first send

    def __call__(self) -> float:
        stat = self._path.stat()
        version = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if version != self._seen:
            text = self._path.read_text().strip()
            if text:  # a writer that truncated and has not written yet: keep the last time
                self._now, self._seen = float(text), version
        return self._now

    @staticmethod
    def write(path: str | Path, now: float) -> None:
        """Set the time a FileClock on `path` reads (atomically, by renaming)."""
        target = Path(path)
        temporary = target.with_suffix(".tmp")
        temporary.write_text(repr(now))
        os.replace(temporary, target)


def wall_clock_from_env(environ: Mapping[str, str] = os.environ) -> WallClock:
    """`time.time`, unless PUSHGATE_TEST_CLOCK_FILE is set explicitly (tests only)."""
    path = environ.get(TEST_CLOCK_ENV, "")
    if not path:
        return time.time
    log.warning("%s is set: scheduling reads the test clock in %s", TEST_CLOCK_ENV, path)
    return FileClock(path)
