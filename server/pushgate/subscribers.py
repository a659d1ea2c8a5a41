"""Rules for storing subscriptions that hold whatever path they come by (the subscribe route
validates its own; imports, the benchmark and tests come through here): every endpoint is on
the push-service allowlist, or nothing is stored; a change merges tags (None deletes one) and
leaves at most MAX_TAGS, or nothing is written."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import partial

from pushgate.store import Store
from pushgate.store.models import NewSubscription, Subscription, SubscriptionChanges, TagValue
from pushgate.webpush.allowlist import EndpointPolicy, EndpointRejected

MAX_TAGS = 100  # per subscription, after any merge
EDITABLE_FIELDS = ("external_id", "timezone", "language")  # SubscriptionChanges.fields


async def import_subscriptions(
    store: Store,
    policy: EndpointPolicy,
    site_id: str,
    subs: Sequence[NewSubscription],
    *,
    max_subscriptions: int = 0,
) -> int:
    """Store many new subscriptions at once; raises EndpointRejected (naming the first bad
    endpoint) before storing any when one is not allowed. Returns how many were new."""
    for index, sub in enumerate(subs):
        try:
            policy.check(sub.endpoint)
        except EndpointRejected as exc:
            raise EndpointRejected(f"subscription {index}: {exc}") from exc
    return await store.add_subscriptions_bulk(site_id, subs, max_subscriptions=max_subscriptions)


class TooManyTags(ValueError):
    """A change would leave a subscription with more than `MAX_TAGS` tags; nothing was written."""


def merged_tags(
    current: Mapping[str, TagValue], changes: Mapping[str, TagValue | None]
) -> dict[str, TagValue]:
    """`current` with `changes` merged in: a value replaces or adds that tag, None deletes it.
    TooManyTags when the result holds more than MAX_TAGS."""
    merged = dict(current)
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    if len(merged) > MAX_TAGS:
        raise TooManyTags(f"tags: the change leaves {len(merged)} tags; at most {MAX_TAGS}")
    return merged


def changed(changes: SubscriptionChanges, sub: Subscription) -> Subscription:
    """`sub` with `changes` applied (the rule every path that edits a subscription follows)."""
    given = changes.fields
    return replace(
        sub,
        tags=merged_tags(sub.tags, changes.tags),
        external_id=given.get("external_id", sub.external_id),
        timezone=given.get("timezone", sub.timezone),
        language=given.get("language", sub.language),
    )


async def update_subscription(
    store: Store, site_id: str, subscription_id: str, changes: SubscriptionChanges
) -> Subscription | None:
    """Merge `changes` into one subscription in one write; None when the site has no such id.
    TooManyTags (nothing written) when the merged tags would pass the limit."""
    return await store.update_subscription(site_id, subscription_id, partial(changed, changes))


async def merge_user_tags(
    store: Store, site_id: str, external_id: str, tags: Mapping[str, TagValue | None]
) -> int:
    """Merge `tags` into every subscription of `external_id`, all or none; how many changed.
    TooManyTags (nothing written) when any of them would pass the limit."""
    edit = partial(changed, SubscriptionChanges(tags=tags))
    return await store.update_user_subscriptions(site_id, external_id, edit)
