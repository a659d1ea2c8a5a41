"""Which endpoints a subscription may name: https on a known push service, nothing else.

This is the gateway's SSRF guard: an endpoint is a URL the gateway will POST to, so a
subscriber must not be able to aim it at an internal address. Hosts are compared after
parsing; userinfo, odd IP spellings, fragments and non-default ports on the public push
services are refused outright.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_ENDPOINT_LENGTH = 2048

# The push services browsers use. A suffix entry (leading dot) matches any subdomain.
KNOWN_PUSH_HOSTS = (
    "fcm.googleapis.com",  # Chrome, Edge on Android, Opera, Samsung
    "android.googleapis.com",  # legacy GCM endpoints still issued by old Chrome profiles
    "updates.push.services.mozilla.com",  # Firefox (autopush)
    "push.services.mozilla.com",
    "web.push.apple.com",  # Safari, iOS home-screen apps
    ".notify.windows.com",  # Edge on Windows (WNS)
)


class EndpointRejected(ValueError):
    """The endpoint is not one the gateway may send to."""


@dataclass(frozen=True)
class _HostPort:
    host: str
    port: int


def _parse_extra(entry: str) -> tuple[str, int | None]:
    entry = entry.strip().lower()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    host, sep, port = entry.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host, int(port)
    return entry, None


class EndpointPolicy:
    """Decides whether a push endpoint URL is allowed."""

    def __init__(self, extra_hosts: Iterable[str] = ()) -> None:
        # Extra hosts (the local push service) may use plain http; an entry without a port
        # stands for the scheme's default port only.
        self._extra = [_parse_extra(e) for e in extra_hosts if e.strip()]

    def check(self, endpoint: object) -> str:
        """Return the endpoint unchanged if allowed, else raise EndpointRejected saying why."""
        if not isinstance(endpoint, str) or not endpoint:
            raise EndpointRejected("endpoint must be a non-empty string")
        if len(endpoint) > MAX_ENDPOINT_LENGTH:
            raise EndpointRejected(f"endpoint is longer than {MAX_ENDPOINT_LENGTH} characters")
        if not endpoint.isascii() or any(c.isspace() or ord(c) < 32 for c in endpoint):
            raise EndpointRejected("endpoint must be plain ASCII without spaces")
        try:
            parts = urlsplit(endpoint)
            port = parts.port
        except ValueError as exc:
            raise EndpointRejected("endpoint is not a valid URL") from exc
        if "@" in parts.netloc or parts.username is not None:
            raise EndpointRejected("endpoint must not contain user information")
        if parts.fragment:
            raise EndpointRejected("endpoint must not contain a fragment")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise EndpointRejected("endpoint has no host")
        scheme = parts.scheme
        effective_port = port or {"https": 443, "http": 80}.get(scheme)
        if self._matches_extra(host, scheme, effective_port):
            return endpoint
        if scheme != "https":
            raise EndpointRejected("endpoint must use https")
        if effective_port != 443:
            raise EndpointRejected("endpoint must use the push service's default port")
        if not _is_known_push_host(host):
            raise EndpointRejected(f"{host} is not a known push service")
        return endpoint

    def _matches_extra(self, host: str, scheme: str, port: int | None) -> bool:
        if scheme not in ("http", "https") or port is None:
            return False
        default = 443 if scheme == "https" else 80
        for extra_host, extra_port in self._extra:
            if host == extra_host and port == (extra_port if extra_port is not None else default):
                return True
        return False


def _is_known_push_host(host: str) -> bool:
    for known in KNOWN_PUSH_HOSTS:
        if known.startswith("."):
            if host.endswith(known) and _is_dns_label_chain(host[: -len(known)]):
                return True
        elif host == known:
            return True
    return False


def _is_dns_label_chain(prefix: str) -> bool:
    labels = prefix.split(".")
    return bool(prefix) and all(
        label and len(label) <= 63 and all(c.isalnum() or c == "-" for c in label)
        for label in labels
    )
