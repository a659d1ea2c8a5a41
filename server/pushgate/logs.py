"""Logging for `serve` and `demo`: text or one JSON object a line, and no secrets at any level.

Some libraries log their arguments at DEBUG: aiosqlite logs every call with its SQL parameters
(the event-token secret, VAPID private keys, every subscriber's p256dh and auth), hpack the
decoded headers (Authorization), websockets every frame. Those loggers stay at INFO or above
whatever --log-level says; `--log-level debug` is for pushgate's own records.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from typing import Any

from pushgate.settings import Settings, SettingsError

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
SECRET_SAFE_LEVELS = {
    "aiosqlite": logging.INFO,  # DEBUG: "executing <function> (sql, parameters)"
    "hpack": logging.INFO,  # DEBUG: decoded header blocks
    "httpcore": logging.INFO,  # DEBUG: request and connection traces
    "websockets": logging.INFO,  # DEBUG: frames, payloads included
}


def validate_log_settings(settings: Settings) -> None:
    """SettingsError naming the setting when --log-level or --log-format is not a known value."""
    if settings.log_level.lower() not in LOG_LEVELS:
        raise SettingsError(
            f"--log-level (PUSHGATE_LOG_LEVEL) must be one of {', '.join(LOG_LEVELS)}; "
            f"got {settings.log_level!r}"
        )
    if settings.log_format.lower() not in LOG_FORMATS:
        raise SettingsError(
            f"--log-format (PUSHGATE_LOG_FORMAT) must be text or json; got {settings.log_format!r}"
        )


def setup_logging(settings: Settings) -> None:
    """Send every record (uvicorn's too) through one stderr handler in the chosen format."""
    validate_log_settings(settings)
    handler = logging.StreamHandler(sys.stderr)
    json_lines = settings.log_format.lower() == "json"
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler], force=True)
    level = logging.getLogger().level
    for name, floor in SECRET_SAFE_LEVELS.items():
        logging.getLogger(name).setLevel(max(level, floor))
    threading.excepthook = _log_thread_exception  # a traceback is a log record too
    logging.getLogger("pushgate").debug(
        "debug log: %s stay at info (their debug lines hold secrets)", ", ".join(SECRET_SAFE_LEVELS)
    )


def _log_thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    thread = args.thread.name if args.thread else "?"
    logging.getLogger("pushgate").error(
        "uncaught exception in thread %s",
        thread,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (ISO 8601, UTC), level, logger, message[, exc_info]."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _iso_utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _iso_utc(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"
