"""pushgate.logs: the two formats, and the loggers that would print secrets kept quiet."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator

import pytest

from pushgate.logs import JsonFormatter, setup_logging
from pushgate.settings import Settings, SettingsError


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level, hook = root.handlers[:], root.level, threading.excepthook
    levels = {name: logging.getLogger(name).level for name in ("aiosqlite", "hpack", "pushgate")}
    yield
    root.handlers[:], threading.excepthook = handlers, hook
    root.setLevel(level)
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)


def record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("pushgate.api", logging.ERROR, __file__, 1, message, args, exc_info)


def test_json_line_has_utc_time_level_logger_and_message() -> None:
    entry = json.loads(JsonFormatter().format(record("sent %d of %s", 3, "n1")))
    assert entry.keys() == {"time", "level", "logger", "message"}
    assert entry["level"] == "error" and entry["logger"] == "pushgate.api"
    assert entry["message"] == "sent 3 of n1"
    assert len(entry["time"]) == len("2026-11-28T12:00:00.000Z") and entry["time"].endswith("Z")


def test_json_line_carries_the_traceback_in_one_field() -> None:
    try:
        raise ValueError("bad\nthing")
    except ValueError as exc:
        line = JsonFormatter().format(record("failed", exc=exc))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["exc_info"].startswith("Traceback") and "ValueError: bad" in entry["exc_info"]


def test_debug_level_keeps_aiosqlite_and_hpack_at_info(restore_logging: None) -> None:
    setup_logging(Settings(log_level="debug"))
    assert logging.getLogger("pushgate").getEffectiveLevel() == logging.DEBUG
    assert logging.getLogger("aiosqlite").getEffectiveLevel() == logging.INFO
    assert logging.getLogger("hpack").getEffectiveLevel() == logging.INFO
    setup_logging(Settings(log_level="error"))
    assert logging.getLogger("aiosqlite").getEffectiveLevel() == logging.ERROR


def test_thread_tracebacks_become_json_records(restore_logging: None) -> None:
    setup_logging(Settings(log_format="json"))
    logging.getLogger().handlers[0].setStream(stream := io.StringIO())  # type: ignore[attr-defined]

    def crash() -> None:
        raise RuntimeError("in a thread")

    thread = threading.Thread(target=crash, name="reader")
    thread.start()
    thread.join()
    entry = json.loads(stream.getvalue())
    assert entry["message"] == "uncaught exception in thread reader"
    assert "RuntimeError: in a thread" in entry["exc_info"]


@pytest.mark.parametrize(("level", "fmt"), [("verbose", "text"), ("info", "yaml")])
def test_unknown_level_or_format_is_refused(level: str, fmt: str) -> None:
    with pytest.raises(SettingsError):
        setup_logging(Settings(log_level=level, log_format=fmt))
