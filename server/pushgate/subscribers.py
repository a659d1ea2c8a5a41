"""Rules for storing subscriptions that hold whatever path they come by (the subscribe route
validates its own; imports, the benchmark and tests come through here): every endpoint is on
the push-service allowlist, or nothing is stored."""

from __future__ import annotations

from collections.abc import Sequence

from pushgate.store import Store
from pushgate.store.models import NewSubscription
from pushgate.webpush.allowlist import EndpointPolicy, EndpointRejected


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
