"""Site origins as browsers send them, from what an operator types.

A browser's `Origin` header is the serialisation of RFC 6454 section 6.2 (as the URL Standard
defines it): `scheme "://" host [":" port]`, scheme and host in lower case, the scheme's default
port left out, no path, no trailing slash. A stored origin is compared with that header as a
string, so `normalise_origin` turns `" HTTPS://News.Example:443/ "` into the one form a browser
would send, and refuses what can never be an origin (a path, a query, a fragment, a user name).
"""

from __future__ import annotations

import ipaddress
import re

MAX_ORIGIN_LENGTH = 300  # a 253-character host, a scheme and a port, with room to spare
DEFAULT_PORTS = {"http": 80, "https": 443}
# Browsers allow push (service workers) on https, and on http only for these hosts, which the
# Secure Contexts spec calls potentially trustworthy.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
_SCHEME = re.compile(r"\A([A-Za-z][A-Za-z0-9+.-]*)://")
_LABEL = re.compile(r"\A(?!-)[a-z0-9_-]{1,63}(?<!-)\Z")
_PORT = re.compile(r"\A[0-9]{0,5}\Z")


class InvalidOrigin(ValueError):
    """A value that is not an origin; the message says why and what to type instead."""


def normalise_origin(value: str) -> str:
    """The origin a browser would send for `value`: trimmed, scheme and host lower-cased,
    the default port dropped. InvalidOrigin for anything else than scheme://host[:port]."""
    text = value.strip()
    if not text:
        raise InvalidOrigin("an origin must not be empty: give one like https://news.example")
    if len(text) > MAX_ORIGIN_LENGTH:
        raise InvalidOrigin(f"an origin is at most {MAX_ORIGIN_LENGTH} characters long")
    match = _SCHEME.match(text)
    if match is None:
        raise InvalidOrigin(f"{text!r} has no scheme: give it as https://{text.split('/')[0]}")
    scheme = match[1].lower()
    if scheme not in DEFAULT_PORTS:
        raise InvalidOrigin(f"{text!r} is not http or https (push needs an https page)")
    authority, rest = _split_authority(text[match.end() :])
    if rest not in ("", "/"):
        raise InvalidOrigin(
            f"{text!r} is not an origin: drop {rest!r} "
            "(an origin is scheme://host[:port], without path, query or fragment)"
        )
    if "@" in authority:
        raise InvalidOrigin(f"{text!r} is not an origin: drop the user name before '@'")
    host, port = _host_and_port(authority, text)
    if port is not None and port != DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


def insecure_origin_warning(origin: str) -> str | None:
    """Why a normalised `origin` cannot receive push, or None when it can."""
    scheme, _, rest = origin.partition("://")
    host = rest.rsplit(":", 1)[0] if not rest.endswith("]") else rest
    if scheme == "https" or host in LOCAL_HOSTS:
        return None
    return (
        f"{origin}: browsers only allow push on https pages (http only on localhost, "
        "127.0.0.1 or [::1]); subscribing from this origin will fail"
    )


def _split_authority(after_scheme: str) -> tuple[str, str]:
    """The authority, and whatever follows it (path, query or fragment)."""
    for index, char in enumerate(after_scheme):
        if char in "/?#\\":
            return after_scheme[:index], after_scheme[index:]
    return after_scheme, ""


def _host_and_port(authority: str, text: str) -> tuple[str, int | None]:
    if authority.startswith("["):
        literal, bracket, tail = authority[1:].partition("]")
        if not bracket or (tail and not tail.startswith(":")):
            raise InvalidOrigin(f"{text!r} has a malformed IPv6 address")
        return _ipv6(literal, text), _port(tail[1:], text) if tail else None
    host, colon, port = authority.rpartition(":") if ":" in authority else (authority, "", "")
    return _hostname(host, text), _port(port, text) if colon else None


def _ipv6(literal: str, text: str) -> str:
    try:
        address = ipaddress.IPv6Address(literal)
    except ValueError:
        raise InvalidOrigin(f"{text!r} has a malformed IPv6 address") from None
    return f"[{address.compressed}]"  # as browsers serialise it: lower case, zeros compressed


def _hostname(host: str, text: str) -> str:
    if not host:
        raise InvalidOrigin(f"{text!r} has no host name")
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()  # what browsers send for IDNs
    except UnicodeError:
        raise InvalidOrigin(f"{text!r} has an invalid host name") from None
    labels = ascii_host.removesuffix(".").split(".")
    if len(ascii_host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise InvalidOrigin(f"{text!r} has an invalid host name")
    return ascii_host


def _port(port: str, text: str) -> int | None:
    if not _PORT.match(port) or (port and not 0 < int(port) < 65536):
        raise InvalidOrigin(f"{text!r} has an invalid port: give a number from 1 to 65535")
    return int(port) if port else None  # "host:" is the host alone, as browsers read it
