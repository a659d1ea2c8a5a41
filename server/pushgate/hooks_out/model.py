"""What an event hook is allowed to be: its URL (https on the public internet; http and
non-public addresses only for an exact `host:port` in PUSHGATE_ALLOWED_HOOK_HOSTS), the event
types it wants, and its signing secret. Each rule raises HookRefused with one clear line."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from yarl import URL

from pushgate.automation.public_addresses import (
    AddressRefused,
    allowed_set,
    checked_literal,
    host_port,
    resolve_public,
)

EVENT_TYPES = ("sent", "delivered", "clicked", "dismissed", "subscribed", "unsubscribed", "gone")
MIN_SECRET_CHARS, MAX_SECRET_CHARS = 16, 256
GENERATED_SECRET_BYTES = 32  # 43 base64url characters
MAX_URL_CHARS = 2048
MAX_HOOKS_PER_SITE = 10


class HookRefused(ValueError):
    """A hook cannot be stored or reached; the message says why in one line."""


def public_only(exc: AddressRefused) -> HookRefused:
    """The resolver's refusal, told for hooks (its own text names feeds' setting)."""
    reason = str(exc).split(";")[0]
    return HookRefused(
        f"{reason}; event hooks are sent to the public internet only "
        "(PUSHGATE_ALLOWED_HOOK_HOSTS lists exceptions)"
    )


def checked_url(url: object, allowed_hosts: Iterable[str]) -> URL:
    """The URL if its form is allowed (before any name is resolved)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_CHARS:
        raise HookRefused(
            f"url must be an absolute https URL of at most {MAX_URL_CHARS} characters"
        )
    try:
        target = URL(url)
    except (ValueError, TypeError):
        raise HookRefused("url is not an absolute URL") from None
    if not target.is_absolute() or not target.raw_host or target.port is None:
        raise HookRefused("url is not an absolute URL with a host")
    if target.raw_user is not None or target.raw_password is not None:
        raise HookRefused("url must not hold user information")
    allowed = allowed_set(allowed_hosts)
    listed = host_port(target.raw_host, target.port) in allowed
    if target.scheme != "https" and not (target.scheme == "http" and listed):
        raise HookRefused("url must be https (http only for PUSHGATE_ALLOWED_HOOK_HOSTS)")
    if target.fragment:
        raise HookRefused("url must not have a fragment")
    try:
        checked_literal(target.raw_host, target.port, allowed)
    except AddressRefused as exc:
        raise public_only(exc) from None
    return target


async def checked_reachable(url: str, allowed_hosts: Iterable[str]) -> None:
    """HookRefused unless the URL's form is allowed and its host resolves to public
    addresses only (or is listed): what creating a hook checks. The sender checks again at
    every connection, since a name may resolve elsewhere later."""
    target = checked_url(url, allowed_hosts)
    try:
        await resolve_public(target.raw_host or "", target.port or 0, allowed_set(allowed_hosts))
    except AddressRefused as exc:
        raise public_only(exc) from None


def checked_events(events: object) -> tuple[str, ...]:
    """A non-empty subset of EVENT_TYPES, in EVENT_TYPES's order, without repeats."""
    if not isinstance(events, list | tuple) or not events:
        raise HookRefused(f"events must be a non-empty list of {', '.join(EVENT_TYPES)}")
    for event in events:
        if event not in EVENT_TYPES:
            raise HookRefused(f"events: {str(event)[:40]!r} is not one of {', '.join(EVENT_TYPES)}")
    return tuple(t for t in EVENT_TYPES if t in events)


def checked_secret(secret: object) -> str:
    if not isinstance(secret, str) or not MIN_SECRET_CHARS <= len(secret) <= MAX_SECRET_CHARS:
        raise HookRefused(
            f"secret must be text of {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters"
        )
    if not secret.isprintable() or not secret.isascii():
        raise HookRefused("secret must be printable ASCII")
    return secret


def new_secret() -> str:
    return secrets.token_urlsafe(GENERATED_SECRET_BYTES)
