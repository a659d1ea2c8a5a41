"""Event hooks as the API and the dashboard manage them: one path to the store for both."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from pushgate.hooks_out.capture import EventCapture
from pushgate.hooks_out.model import (
    MAX_HOOKS_PER_SITE,
    HookRefused,
    checked_events,
    checked_reachable,
    checked_secret,
)
from pushgate.store import Store
from pushgate.store.event_hook_rows import EventHook


async def create_hook(
    store: Store,
    capture: EventCapture | None,
    allowed_hosts: Iterable[str],
    site_id: str,
    *,
    url: object,
    events: object,
    secret: object,
    now: float,
) -> EventHook:
    """Check and store a new hook; HookRefused (nothing stored) says what is wrong."""
    if not isinstance(url, str):
        raise HookRefused("url is required: an absolute https URL")
    await checked_reachable(url, allowed_hosts)
    hook = EventHook(
        id="eh_" + uuid.uuid4().hex[:20],
        site_id=site_id,
        url=url,
        events=checked_events(events),
        secret=checked_secret(secret),
        created_at=now,
    )
    if len(await store.list_event_hooks(site_id)) >= MAX_HOOKS_PER_SITE:
        raise HookRefused(f"a site has at most {MAX_HOOKS_PER_SITE} event hooks")
    await store.create_event_hook(hook)
    if capture is not None:
        capture.invalidate()
    return hook


async def delete_hook(
    store: Store, capture: EventCapture | None, site_id: str, hook_id: str
) -> bool:
    deleted = await store.delete_event_hook(site_id, hook_id)
    if capture is not None:
        capture.invalidate()
    return deleted
