"""One frozen Settings object: each field has a default, a help text, a flag and a PUSHGATE_* var.

The CLI builds its options from `SETTINGS_FIELDS`, so flag, environment variable and the README's
settings table (checked by tests/test_docs.py) can never drift apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pushgate.durations import InvalidDuration, duration_seconds

DEFAULT_PORT = 8080
DEFAULT_PUSH_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_IN_FLIGHT_PER_HOST = 400
DEFAULT_CLIENT_RATE_PER_MINUTE = 60  # a visitor subscribes once, and reports a few events
DEFAULT_SITE_SUBSCRIBE_RATE_PER_MINUTE = 50_000  # a viral article's first minutes
DEFAULT_API_KEY_RATE_PER_MINUTE = 600
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
DEFAULT_LEASE_SECONDS = 60.0
MIN_LEASE_SECONDS = 3.0  # renewed every third of it: shorter would renew more than it sends


def default_database() -> str:
    """SQLite under the user's data directory, so the working directory stays untouched."""
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{data_home / 'pushgate' / 'pushgate.db'}"


def _setting(default: Any, help: str, *, flag: str | None = None, **extra: Any) -> Any:
    meta = {"help": help, "flag": flag}
    if callable(default):
        return field(default_factory=default, metadata=meta | extra)
    return field(default=default, metadata=meta | extra)


@dataclass(frozen=True)
class Settings:
    host: str = _setting("127.0.0.1", "Address to listen on.")
    port: int = _setting(DEFAULT_PORT, "TCP port to listen on.")
    database: str = _setting(
        default_database,
        "Database URL: sqlite:///PATH (default: $XDG_DATA_HOME/pushgate/pushgate.db), or "
        "postgresql://USER:PASSWORD@HOST:PORT/DATABASE for many gateways on one database.",
    )
    no_migrate: bool = _setting(
        False,
        "Refuse to start on an older database schema instead of migrating it "
        "(then run `pushgate migrate` first).",
    )
    no_deliver: bool = _setting(
        False,
        "serve only: answer the HTTP API without sending (then `pushgate worker` processes on "
        "the same PostgreSQL database send).",
    )
    lease_seconds: float = _setting(
        DEFAULT_LEASE_SECONDS,
        "Seconds a gateway holds the deliveries it claimed (renewed while it works on them); "
        "work of a gateway that died is taken over after this.",
    )
    database_pool_size: int = _setting(
        10, "PostgreSQL only: connections each process keeps open to the database."
    )
    delivery_retention: str = _setting(
        "30d",
        "How long per-delivery rows (deliveries, events) of a notification are kept, then "
        "pruned; counters and daily roll-ups are kept (a number and s, m, h or d).",
    )
    public_url: str = _setting("", "The gateway's public base URL (default: http://HOST:PORT).")
    vapid_subject: str = _setting(
        "", "VAPID contact sent to push services: a mailto: or https: URL (required by serve)."
    )
    allowed_push_hosts: tuple[str, ...] = _setting(
        tuple, "Extra host[:port] entries allowed as subscription endpoints, comma-separated."
    )
    allowed_feed_hosts: tuple[str, ...] = _setting(
        tuple,
        "Exact host:port entries a feed URL may use although they are loopback or private "
        "(for tests), comma-separated.",
    )
    allowed_hook_hosts: tuple[str, ...] = _setting(
        tuple,
        "Exact host:port entries an event hook URL may use although they are loopback or "
        "private, and over http (for tests), comma-separated.",
    )
    push_timeout: float = _setting(
        DEFAULT_PUSH_TIMEOUT_SECONDS, "Seconds to wait for a push service's answer."
    )
    max_in_flight_per_host: int = _setting(
        DEFAULT_MAX_IN_FLIGHT_PER_HOST, "Concurrent requests at most to one push-service host."
    )
    http2: str = _setting(
        "auto", "HTTP/2 to push services that offer it (ALPN): auto, or off for HTTP/1.1 only."
    )
    send_workers: int = _setting(
        0, "Processes that encrypt and send (0: one per CPU core, at most 4)."
    )
    log_level: str = _setting("info", "Log level: debug, info, warning or error.")
    log_format: str = _setting("text", "Log line format: text, or json (one object a line).")
    rate_limit_per_client: int = _setting(
        DEFAULT_CLIENT_RATE_PER_MINUTE,
        "Requests a minute per client address on subscribe, unsubscribe, events and track "
        "(0: none).",
    )
    rate_limit_subscribe_per_site: int = _setting(
        DEFAULT_SITE_SUBSCRIBE_RATE_PER_MINUTE, "Subscribes a minute per site (0: no limit)."
    )
    rate_limit_per_api_key: int = _setting(
        DEFAULT_API_KEY_RATE_PER_MINUTE, "Admin API requests a minute per API key (0: no limit)."
    )
    trusted_proxies: tuple[str, ...] = _setting(
        tuple,
        "Proxy addresses or networks (comma-separated) whose X-Forwarded-For names the client.",
    )
    geoip_database: str = _setting(
        "",
        "A MaxMind .mmdb file (GeoLite2-Country or -City) that gives each new subscriber's "
        "country from its address (empty: from its time zone).",
    )
    max_subscriptions_per_site: int = _setting(
        0, "Subscriptions a site may hold at most (0: unlimited)."
    )
    metrics_port: int = _setting(
        0,
        "TCP port of a separate listener for GET /metrics, on the same host (0: /metrics is "
        "served on the main port).",
    )
    metrics_token: str = _setting(
        "", "Bearer token GET /metrics requires (empty: none; the scrape is open)."
    )
    secret_key: str = _setting(
        "",
        "Keys that encrypt VAPID private keys at rest, comma-separated, newest first "
        "(each a Fernet key; empty: stored in plain text).",
    )

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def delivery_retention_seconds(self) -> int:
        try:
            return duration_seconds(
                self.delivery_retention, "PUSHGATE_DELIVERY_RETENTION", 3600, 3650 * 86400
            )
        except InvalidDuration as exc:
            raise SettingsError(str(exc)) from exc

    @property
    def uses_postgres(self) -> bool:
        return self.database.startswith(POSTGRES_SCHEMES)

    def validate_http2(self) -> None:
        if self.http2 not in ("auto", "off"):
            raise SettingsError(f"PUSHGATE_HTTP2 must be auto or off, got {self.http2!r}")

    def validate_database(self) -> None:
        """SettingsError unless `database` is a usable SQLite or PostgreSQL URL (and the
        settings that go with it make sense)."""
        if self.lease_seconds < MIN_LEASE_SECONDS:
            raise SettingsError(f"PUSHGATE_LEASE_SECONDS must be at least {MIN_LEASE_SECONDS:g}")
        self.delivery_retention_seconds  # noqa: B018 - raises SettingsError for a bad value
        if not self.uses_postgres:
            self.sqlite_path  # noqa: B018 - raises SettingsError for a bad URL
            return
        parts = urlsplit(self.database)
        if not parts.hostname or not parts.path.strip("/"):
            shown = _without_password(self.database)
            raise SettingsError(
                "PUSHGATE_DATABASE must name a host and a database: "
                f"postgresql://USER:PASSWORD@HOST:PORT/DATABASE, got {shown!r}"
            )
        if self.database_pool_size < 1:
            raise SettingsError("PUSHGATE_DATABASE_POOL_SIZE must be at least 1")

    @property
    def sqlite_path(self) -> Path:
        # SQLAlchemy's convention: sqlite:///relative/path, sqlite:////absolute/path.
        prefix = "sqlite:///"
        if not self.database.startswith(prefix) or len(self.database) == len(prefix):
            # A bare file path is the likeliest mistake: say the URL that names it.
            hint = "" if "://" in self.database else f" (a file: {prefix}{self.database})"
            raise SettingsError(
                "PUSHGATE_DATABASE must be sqlite:///PATH or postgresql://USER@HOST/DATABASE, "
                f"got {_without_password(self.database)!r}{hint}"
            )
        return Path(self.database[len(prefix) :])

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _without_password(url: str) -> str:
    """A database URL fit for a message: its password replaced."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


shown_database = _without_password  # for messages outside this module


class SettingsError(ValueError):
    """A setting is missing or invalid; the message says what to set."""


def env_var(name: str) -> str:
    return f"PUSHGATE_{name.upper()}"


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


SETTINGS_FIELDS = {f.name: f for f in fields(Settings)}


def parse_list(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """A comma-separated setting (or a list of them) as a tuple of trimmed entries."""
    if not value:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(item.strip() for item in items if item.strip())


def parse_push_hosts(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if not value:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(item.strip().lower() for item in items if item.strip())


def validate_vapid_subject(subject: str) -> str:
    """RFC 8292 §2.1: a mailto: or https: contact; Apple refuses localhost and spaces."""
    what = "Set PUSHGATE_VAPID_SUBJECT (or --vapid-subject) to a mailto: or https: URL"
    if not subject:
        raise SettingsError(f"{what}, e.g. mailto:ops@example.com.")
    if any(c.isspace() for c in subject):
        raise SettingsError(f"{what} without spaces; got {subject!r}.")
    parts = urlsplit(subject)
    if parts.scheme == "mailto":
        address = parts.path
        host = address.rpartition("@")[2]
        if "@" not in address or not host:
            raise SettingsError(f"{what}; {subject!r} has no address.")
    elif parts.scheme == "https":
        host = parts.hostname or ""
        if not host:
            raise SettingsError(f"{what}; {subject!r} has no host.")
    else:
        raise SettingsError(f"{what}; {subject!r} is neither.")
    if host.lower() in {"localhost", "localhost.localdomain"} or host.lower().endswith(
        ".localhost"
    ):
        raise SettingsError(
            f"{what} whose host is not localhost (Apple refuses it); got {subject!r}."
        )
    return subject
