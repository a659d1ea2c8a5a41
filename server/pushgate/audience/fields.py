"""What a filter may ask about each subscriber: the fields, the operators each takes, and the
enums of `browser` and `push_service` with how they are derived."""

from __future__ import annotations

import functools

EQUALITY_OPS = ("eq", "ne", "in", "not_in", "exists", "not_exists")
ORDER_OPS = ("gt", "gte", "lt", "lte")
TAG_OPS = EQUALITY_OPS + ORDER_OPS
TIME_OPS = (*ORDER_OPS, "within", "exists", "not_exists")
VALUELESS_OPS = ("exists", "not_exists")
LIST_OPS = ("in", "not_in")

TEXT_FIELDS = ("language", "timezone", "country", "browser", "push_service", "external_id")
TIME_FIELDS = ("created_at", "last_seen_at")
FIELDS = ("tags.NAME", *TEXT_FIELDS, *TIME_FIELDS)
ALL_OPS = (*TAG_OPS, "within")

BROWSERS = ("chrome", "edge", "firefox", "safari", "opera", "samsung", "other")
PUSH_SERVICES = ("fcm", "mozilla", "apple", "wns", "other")

# User-Agent markers, first match wins: Edge, Opera and Samsung Internet also say "Chrome/",
# and every Chromium browser also says "Safari/".
_BROWSER_MARKERS = (
    ("Edg/", "edge"),
    ("EdgA/", "edge"),
    ("EdgiOS/", "edge"),
    ("OPR/", "opera"),
    ("OPT/", "opera"),
    ("SamsungBrowser/", "samsung"),
    ("Firefox/", "firefox"),
    ("FxiOS/", "firefox"),
    ("Chrome/", "chrome"),
    ("CriOS/", "chrome"),
    ("Safari/", "safari"),
)

# The push services' endpoint hosts: an exact host, or a suffix starting with ".".
PUSH_SERVICE_HOSTS = (
    ("fcm", ("fcm.googleapis.com", "android.googleapis.com")),
    ("mozilla", (".push.services.mozilla.com",)),
    ("apple", (".push.apple.com",)),
    ("wns", (".notify.windows.com",)),
)


def ops_of(field: str) -> tuple[str, ...]:
    if field.startswith("tags."):
        return TAG_OPS
    return TIME_OPS if field in TIME_FIELDS else EQUALITY_OPS


def browser_of(user_agent: str) -> str | None:
    """The browser family of a User-Agent; None when there is none, "other" when unknown."""
    if not user_agent:
        return None
    for marker, family in _BROWSER_MARKERS:
        if marker in user_agent:
            return family
    return "other"


def push_service_of(endpoint: str) -> str:
    """The push service an endpoint belongs to, by its host: what follows "://" up to the
    next "/", as migration 6's backfill reads it (so a host with a port is "other"). String
    operations and a cache, not urlsplit: a bulk import calls this once a subscriber."""
    return _service_of_host(endpoint.partition("://")[2].partition("/")[0].lower())


@functools.lru_cache(maxsize=1024)
def _service_of_host(host: str) -> str:
    for service, hosts in PUSH_SERVICE_HOSTS:
        if any(host == h or (h.startswith(".") and host.endswith(h)) for h in hosts):
            return service
    return "other"
