"""Edge validation of request bodies: every field checked, with the error code the README lists."""

from __future__ import annotations

import functools
import math
import re
import zoneinfo
from typing import Any
from urllib.parse import urlsplit

from pushgate.api.text import TAG_KEY, has_control
from pushgate.audience.parse import FilterError, parse_filter, segment_name
from pushgate.errors import ApiError
from pushgate.store.models import Audience, NewSubscription, SubscriptionChanges, TagValue
from pushgate.subscribers import EDITABLE_FIELDS, MAX_TAGS
from pushgate.webpush.allowlist import MAX_ENDPOINT_LENGTH, EndpointPolicy, EndpointRejected
from pushgate.webpush.encryption import InvalidSubscriptionKeys, check_subscriber_keys

MAX_TAG_VALUE = 256
MAX_TAG_CHANGES = 2 * MAX_TAGS  # a merge may delete every tag and set as many others
MIN_TAG_NUMBER, MAX_TAG_NUMBER = -(2**63), 2**63 - 1  # a SQLite integer
MAX_ID_LENGTH = 256
MAX_AUDIENCE_IDS = 10_000
MAX_URL_LENGTH = 2048
MAX_TIMEZONE_LENGTH = 64
MAX_LANGUAGE_LENGTH = 35
MAX_KEY_LENGTH = 256  # p256dh is 87 characters, auth 22
MAX_CURSOR = 2**63 - 1  # cursors are SQLite integer keys: signed 64-bit
LANGUAGE = re.compile(r"\A[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*\Z")  # BCP 47, loosely
BASE64URL = re.compile(r"\A[A-Za-z0-9_-]+={0,2}\Z")  # RFC 8291 §3.2 keys, padding tolerated
DIGITS = re.compile(r"\A[0-9]{1,19}\Z")  # ASCII only: str.isdigit() also accepts "²"


def invalid(message: str) -> ApiError:
    return ApiError("invalid_request", message)


def require_object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"{name} must be a JSON object")
    return value


def checked_str(value: Any, name: str, max_length: int, *, multiline: bool = False) -> str:
    """A non-empty string of at most `max_length` characters without control characters
    (tab, line feed and carriage return allowed when `multiline`)."""
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise invalid(f"{name} must be a non-empty string of at most {max_length} characters")
    if has_control(value, multiline=multiline):
        raise invalid(f"{name} must not contain control characters")
    return value


def optional_str(
    data: dict[str, Any], name: str, max_length: int, *, multiline: bool = False
) -> str | None:
    value = data.get(name)
    return None if value is None else checked_str(value, name, max_length, multiline=multiline)


def whole_number(text: str, maximum: int) -> int | None:
    """`text` as a number if it is ASCII digits only and at most `maximum`, else None."""
    if not DIGITS.match(text) or int(text) > maximum:
        return None
    return int(text)


def optional_bool(data: dict[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is not None and not isinstance(value, bool):
        raise invalid(f"{name} must be true or false")
    return value


def _tag_name(key: Any) -> str:
    if not isinstance(key, str) or not TAG_KEY.match(key):
        raise invalid(f"tag name {key!r} must be 1-64 letters, digits or _ . : -")
    return key


def _tag_value(key: str, item: Any, *, deletes: bool = False) -> TagValue:
    """A checked tag value, its message naming the tag: a string (at most MAX_TAG_VALUE
    characters, no control character), a number within a 64-bit integer's range (as SQLite
    compares them) or a boolean."""
    if isinstance(item, bool):
        return item
    if isinstance(item, int | float):
        if not MIN_TAG_NUMBER <= item <= MAX_TAG_NUMBER or not math.isfinite(item):
            raise invalid(f"tag {key!r} must be a number from -2^63 to 2^63-1")
        return item
    if not isinstance(item, str) or len(item) > MAX_TAG_VALUE:
        raise invalid(
            f"tag {key!r} must be a string of at most {MAX_TAG_VALUE} characters, "
            "a number or true or false" + (", or null to delete it" if deletes else "")
        )
    if has_control(item):
        raise invalid(f"tag {key!r} must not contain control characters")
    return item


def tags_of(value: Any, name: str = "tags") -> dict[str, TagValue]:
    """Tags as given whole: at most MAX_TAGS, each value a string, number or boolean."""
    if not isinstance(value, dict):
        raise invalid(f"{name} must be an object of tag names and values")
    if len(value) > MAX_TAGS:
        raise invalid(f"{name} holds {len(value)} tags; at most {MAX_TAGS}")
    return {_tag_name(key): _tag_value(key, item) for key, item in value.items()}


def tag_changes_of(value: Any, name: str = "tags") -> dict[str, TagValue | None]:
    """Tags to merge: as `tags_of`, and a null value deletes that tag."""
    if not isinstance(value, dict):
        raise invalid(f"{name} must be an object of tag names and values (null deletes)")
    if len(value) > MAX_TAG_CHANGES:
        raise invalid(f"{name} holds {len(value)} changes; at most {MAX_TAG_CHANGES}")
    return {
        _tag_name(key): None if item is None else _tag_value(key, item, deletes=True)
        for key, item in value.items()
    }


@functools.cache
def _iana_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def timezone_of(data: dict[str, Any]) -> str | None:
    value = optional_str(data, "timezone", MAX_TIMEZONE_LENGTH)
    # The list, not ZoneInfo(value): that opens any file under the zone folder a client names.
    if value is not None and value not in _iana_time_zones():
        raise invalid(f"timezone {value!r} is not an IANA time zone name")
    return value


def language_of(data: dict[str, Any], name: str = "language") -> str | None:
    value = optional_str(data, name, MAX_LANGUAGE_LENGTH)
    if value is not None and not LANGUAGE.match(value):
        raise invalid(f"{name} {value!r} is not a BCP 47 language tag")
    return value


def _subscriber_keys(sub: dict[str, Any]) -> tuple[str, str]:
    keys = require_object(sub.get("keys"), "subscription.keys")
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not isinstance(p256dh, str) or not isinstance(auth, str):
        raise ApiError("invalid_key", "subscription.keys.p256dh and .auth must be strings")
    for name, value in (("p256dh", p256dh), ("auth", auth)):
        # The base64 decoder skips characters outside the alphabet; they would be stored.
        if len(value) > MAX_KEY_LENGTH or not BASE64URL.match(value):
            raise ApiError("invalid_key", f"subscription.keys.{name} must be base64url")
    try:
        check_subscriber_keys(p256dh, auth)
    except InvalidSubscriptionKeys as exc:
        raise ApiError("invalid_key", f"subscription.keys: {exc}") from exc
    return p256dh, auth


def subscription_request(
    body: Any, policy: EndpointPolicy, browser: str | None = None
) -> NewSubscription:
    """Parse the snippet's subscribe body: `{"subscription": PushSubscription.toJSON(), …}`."""
    data = require_object(body, "body")
    sub = require_object(data.get("subscription"), "subscription")
    try:
        endpoint = policy.check(sub.get("endpoint"))
    except EndpointRejected as exc:
        raise ApiError("endpoint_not_allowed", f"subscription.endpoint: {exc}") from exc
    expiration = sub.get("expirationTime")
    if expiration is not None and (
        isinstance(expiration, bool) or not isinstance(expiration, int | float)
    ):
        raise invalid("subscription.expirationTime must be null or a number")
    p256dh, auth = _subscriber_keys(sub)
    old_endpoint = optional_str(data, "old_endpoint", MAX_ENDPOINT_LENGTH)
    return NewSubscription(
        endpoint=endpoint,
        p256dh=p256dh,
        auth=auth,
        timezone=timezone_of(data),
        language=language_of(data),
        tags=None if data.get("tags") is None else tags_of(data["tags"]),
        external_id=optional_str(data, "external_id", MAX_ID_LENGTH),
        clear_external_id="external_id" in data and data["external_id"] is None,
        browser=browser,
        old_endpoint=old_endpoint,
    )


def subscription_changes(body: Any) -> SubscriptionChanges:
    """Parse `PATCH /api/v1/subscriptions/{id}`: `{"tags"?, "external_id"?, "timezone"?,
    "language"?}`; tags merge (null deletes one), a field given as null is cleared."""
    data = _only(require_object(body, "body"), ("tags", *EDITABLE_FIELDS))
    fields: dict[str, str | None] = {}
    if "external_id" in data:
        fields["external_id"] = optional_str(data, "external_id", MAX_ID_LENGTH)
    if "timezone" in data:
        fields["timezone"] = timezone_of(data)
    if "language" in data:
        fields["language"] = language_of(data)
    tags = tag_changes_of(data["tags"]) if data.get("tags") is not None else {}
    return SubscriptionChanges(tags=tags, fields=fields)


def user_tag_changes(body: Any) -> dict[str, TagValue | None]:
    """Parse `PATCH /api/v1/users/{external_id}`: `{"tags": {...}}`, merged, null deletes."""
    data = _only(require_object(body, "body"), ("tags",))
    if "tags" not in data:
        raise invalid("tags is required: an object of tags to merge (null deletes one)")
    return tag_changes_of(data["tags"])


def _only(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    # A misspelt member would otherwise answer 200 and change nothing.
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise invalid(f"unknown member {unknown[0]!r}; this takes {', '.join(names)}")
    return data


def endpoint_of(body: Any) -> str:
    data = require_object(body, "body")
    return checked_str(data.get("endpoint"), "endpoint", MAX_ENDPOINT_LENGTH)


def http_url(data: dict[str, Any], name: str) -> str | None:
    value = optional_str(data, name, MAX_URL_LENGTH)
    if value is not None:
        try:
            parts = urlsplit(value)
        except ValueError:  # a malformed IPv6 literal: "http://[::1"
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise invalid(f"{name} must be an absolute http or https URL")
    return value


def _ids(selector: Any, name: str) -> tuple[str, ...]:
    if not isinstance(selector, list) or not 0 < len(selector) <= MAX_AUDIENCE_IDS:
        raise invalid(f"{name} must be a list of 1-{MAX_AUDIENCE_IDS} strings")
    return tuple(
        checked_str(item, f"{name}[{i}]", MAX_ID_LENGTH) for i, item in enumerate(selector)
    )


AUDIENCE_KINDS = "all, tags, external_ids, subscription_ids, filter or segment"


def audience_of(value: Any) -> Audience:
    if value is None:
        return Audience(everyone=True)
    data = require_object(value, "audience")
    if len(data) != 1:
        raise invalid(f"audience takes exactly one of {AUDIENCE_KINDS}")
    ((kind, selector),) = data.items()
    if kind == "all":
        if selector is not True:
            raise invalid("audience.all must be true")
        return Audience(everyone=True)
    if kind == "tags":
        tags = tags_of(selector, "audience.tags")
        if not tags:
            raise invalid("audience.tags must name at least one tag")
        return Audience(tags=tags)
    if kind == "external_ids":
        return Audience(external_ids=_ids(selector, "audience.external_ids"))
    if kind == "subscription_ids":
        return Audience(subscription_ids=_ids(selector, "audience.subscription_ids"))
    try:
        if kind == "filter":
            return Audience(filter=parse_filter(selector, "audience.filter"))
        if kind == "segment":
            return Audience(segment=segment_name(selector, "audience.segment"))
    except FilterError as exc:
        raise invalid(str(exc)) from exc
    raise invalid(f"unknown audience {kind!r}; use {AUDIENCE_KINDS}")
