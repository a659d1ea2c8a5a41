"""Edge validation of request bodies: every field checked, with the error code the README lists."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pushgate.errors import ApiError
from pushgate.store.models import Audience, NewSubscription
from pushgate.store.sqlite import TAG_KEY
from pushgate.webpush.allowlist import EndpointPolicy, EndpointRejected
from pushgate.webpush.encryption import InvalidSubscriptionKeys, load_subscriber_keys

MAX_TAGS = 50
MAX_TAG_VALUE = 256
MAX_ID_LENGTH = 256
MAX_AUDIENCE_IDS = 10_000
LANGUAGE = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")


def invalid(message: str) -> ApiError:
    return ApiError("invalid_request", message)


def require_object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"{name} must be a JSON object")
    return value


def optional_str(data: dict[str, Any], name: str, max_length: int) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise invalid(f"{name} must be a non-empty string of at most {max_length} characters")
    return value


def optional_bool(data: dict[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is not None and not isinstance(value, bool):
        raise invalid(f"{name} must be true or false")
    return value


def tags_of(value: Any, name: str = "tags") -> dict[str, str]:
    if not isinstance(value, dict) or len(value) > MAX_TAGS:
        raise invalid(f"{name} must be an object of at most {MAX_TAGS} string values")
    for key, item in value.items():
        if not TAG_KEY.match(key):
            raise invalid(f"tag name {key!r} must be 1-64 letters, digits or _ . : -")
        if not isinstance(item, str) or len(item) > MAX_TAG_VALUE:
            raise invalid(f"tag {key!r} must be a string of at most {MAX_TAG_VALUE} characters")
    return dict(value)


def timezone_of(data: dict[str, Any]) -> str | None:
    value = optional_str(data, "timezone", 64)
    if value is not None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise invalid(f"timezone {value!r} is not an IANA time zone name") from exc
    return value


def language_of(data: dict[str, Any]) -> str | None:
    value = optional_str(data, "language", 35)
    if value is not None and not LANGUAGE.match(value):
        raise invalid(f"language {value!r} is not a BCP 47 language tag")
    return value


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
    keys = require_object(sub.get("keys"), "subscription.keys")
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not isinstance(p256dh, str) or not isinstance(auth, str):
        raise ApiError("invalid_key", "subscription.keys.p256dh and .auth must be strings")
    try:
        load_subscriber_keys(p256dh, auth)
    except InvalidSubscriptionKeys as exc:
        raise ApiError("invalid_key", f"subscription.keys: {exc}") from exc
    old_endpoint = optional_str(data, "old_endpoint", 2048)
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


def endpoint_of(body: Any) -> str:
    data = require_object(body, "body")
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise invalid("endpoint must be a non-empty string")
    return endpoint


def http_url(data: dict[str, Any], name: str) -> str | None:
    value = optional_str(data, name, 2048)
    if value is not None:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise invalid(f"{name} must be an absolute http or https URL")
    return value


def audience_of(value: Any) -> Audience:
    if value is None:
        return Audience(everyone=True)
    data = require_object(value, "audience")
    if len(data) != 1:
        raise invalid("audience takes exactly one of all, tags, external_ids, subscription_ids")
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
    if kind in ("external_ids", "subscription_ids"):
        if (
            not isinstance(selector, list)
            or not 0 < len(selector) <= MAX_AUDIENCE_IDS
            or not all(isinstance(i, str) and 0 < len(i) <= MAX_ID_LENGTH for i in selector)
        ):
            raise invalid(f"audience.{kind} must be a list of 1-{MAX_AUDIENCE_IDS} strings")
        ids = tuple(selector)
        return (
            Audience(external_ids=ids) if kind == "external_ids" else Audience(subscription_ids=ids)
        )
    raise invalid(f"unknown audience {kind!r}; use all, tags, external_ids or subscription_ids")
