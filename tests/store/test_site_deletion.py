"""`delete_site` on both backends: the site and every row it owns go, in every table, and no row
of another site does. The check is by table, over the database's own list of tables, so a table
added later that holds a site's rows fails here until store/site_data.py deletes them too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pushgate.store import Store, open_store
from pushgate.store.base import SiteGone
from pushgate.store.event_hook_rows import AttemptResult, EventHook, HookAttempt, HookEvent
from pushgate.store.models import DeliveryRef, NewSubscription
from pushgate.store.prompt_rows import PromptVariant
from tests.api.test_subscriptions import FCM, VALID_AUTH, VALID_P256DH
from tests.store.test_webhook_store import hook

# Tables that hold no site's rows: the schema's bookkeeping, the dashboard's operators (who
# outlive a site; operator_sites ties them to it) and their logins.
SITELESS = {"meta", "schema_version", "operators", "dashboard_sessions", "login_failures"}
SITELESS |= {"sqlite_sequence", "sqlite_stat1"}


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    async with open_store(database_url) as store:
        yield store


async def execute(store: Store, sql: str, *args: object) -> None:
    """One statement written with `?` placeholders, on either backend (test-only access)."""
    if type(store).__name__.startswith("Postgres"):
        for number in range(1, len(args) + 1):
            sql = sql.replace("?", f"${number}", 1)
        async with store._transaction() as db:  # type: ignore[attr-defined]
            await db.execute(sql, *args)
        return
    async with store._transaction() as db:  # type: ignore[attr-defined]
        await db.execute(sql, args)


async def scalar(store: Store, sql: str, arg: str) -> int:
    if type(store).__name__.startswith("Postgres"):
        row = await store._one(sql.replace("?", "$1"), arg)  # type: ignore[attr-defined]
    else:
        row = await store._one(sql, (arg,))  # type: ignore[attr-defined]
    return int(row[0])


async def table_counts(store: Store) -> dict[str, int]:
    if type(store).__name__.startswith("Postgres"):
        rows = await store._all(  # type: ignore[attr-defined]
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
    else:
        rows = await store._all("SELECT name FROM sqlite_master WHERE type = 'table'")  # type: ignore[attr-defined]
    counts = {}
    for (table,) in rows:
        row = await store._one(f"SELECT count(*) FROM {table}")  # type: ignore[attr-defined]
        counts[table] = int(row[0])
    return counts


async def fill(store: Store, site_id: str, tag: str) -> None:
    """One row or more of the site in every table that can hold one."""
    new = NewSubscription(f"{FCM}-{tag}", VALID_P256DH, VALID_AUTH, tags={"topic": "sports"})
    subscription, _ = await store.upsert_subscription(site_id, new)
    await store.create_api_key(site_id, "second", 1.0)
    await store.create_webhook(hook(site_id, f"hook-{tag}"))
    await execute(
        store,
        "INSERT INTO notifications (id, site_id, payload, audience, ttl, request_hash, "
        "created_at) VALUES (?, ?, '{}', '{}', 60, 'h', 1.0)",
        f"n-{tag}",
        site_id,
    )
    key = await scalar(store, "SELECT key FROM notifications WHERE id = ?", f"n-{tag}")
    sub_key = await scalar(store, "SELECT key FROM subscriptions WHERE id = ?", subscription.id)
    await execute(
        store,
        f"INSERT INTO deliveries (notification_key, subscription_key, state) "
        f"VALUES ({key}, {sub_key}, 'accepted')",
    )
    await execute(
        store,
        f"INSERT INTO events (notification_key, subscription_key, kind, at) "
        f"VALUES ({key}, {sub_key}, 'clicked', 1.0)",
    )
    # An event through the store: counted in the roll-ups too (subscribing filled the others).
    assert await store.record_event(DeliveryRef(key, sub_key, site_id), "delivered", None)
    await execute(
        store,
        "INSERT INTO segments (site_id, name, filter, created_at, updated_at) "
        "VALUES (?, 'fans', '{}', 1.0, 1.0)",
        site_id,
    )
    await execute(
        store,
        "INSERT INTO tracked_events (site_id, id, name, occurred_at, received_at) "
        "VALUES (?, 'e1', 'cart_add', 1.0, 1.0)",
        site_id,
    )
    await execute(
        store,
        "INSERT INTO feeds (id, site_id, url, definition, interval_seconds, next_poll_at, "
        "created_at, updated_at) VALUES (?, ?, 'https://feed.example/rss', '{}', 600, 1.0, "
        "1.0, 1.0)",
        f"f-{tag}",
        site_id,
    )
    await execute(
        store,
        "INSERT INTO feed_entries (feed_id, identity, seen_at) VALUES (?, 'entry', 1.0)",
        f"f-{tag}",
    )
    await execute(
        store,
        "INSERT INTO triggers (id, site_id, name, definition, created_at, updated_at) "
        "VALUES (?, ?, 'cart', '{}', 1.0, 1.0)",
        f"t-{tag}",
        site_id,
    )
    await execute(
        store,
        "INSERT INTO trigger_runs (trigger_id, user_key, group_value, event, started_at, "
        "due_at, state) VALUES (?, 'user:u1', '', '{}', 1.0, 2.0, 'pending')",
        f"t-{tag}",
    )
    await execute(
        store,
        "INSERT INTO operators (id, email, role, password_hash, created_at, updated_at) "
        "VALUES (?, ?, 'editor', 'x', 1.0, 1.0)",
        f"op-{tag}",
        f"{tag}@news.example",
    )
    await execute(
        store,
        "INSERT INTO operator_sites (operator_id, site_id) VALUES (?, ?)",
        f"op-{tag}",
        site_id,
    )
    await store.set_prompt_variants(site_id, [PromptVariant("a", "News?", "Yes", "No", 50)])
    await store.count_prompt_event(site_id, "2026-12-02", "a", "shown")
    await fill_event_hooks(store, site_id, tag, subscription.id)


async def fill_event_hooks(store: Store, site_id: str, tag: str, subscription_id: str) -> None:
    """An event hook with an event waiting and an attempt made (issue #12 part 8)."""
    hook = EventHook(f"eh-{tag}", site_id, "https://crm.example/in", ("clicked",), "s" * 32, 1.0)
    await store.create_event_hook(hook)
    await store.enqueue_hook_events([(hook.id, HookEvent("clicked", 1.0, subscription_id))])
    attempt = AttemptResult(HookAttempt(1.0, 500, None, 1), (), 2.0, 5.0)
    await store.finish_hook_attempt(hook.id, attempt, keep=100)


async def test_delete_site_removes_every_row_of_the_site_and_none_of_another(
    store: Store,
) -> None:
    kept, _ = await store.create_site("kept", ["https://kept.example"])
    await fill(store, kept.id, "kept")
    before = await table_counts(store)
    doomed, doomed_key = await store.create_site("doomed", ["https://doomed.example"])
    await fill(store, doomed.id, "doomed")
    filled = await table_counts(store)
    holding = {table for table in filled if filled[table] > before[table]}
    # Every table but the siteless ones got a row of the doomed site, so each is checked below.
    assert holding - {"operators"} == set(filled) - SITELESS, set(filled) - holding

    assert await store.delete_site(doomed.id)

    after = await table_counts(store)
    assert {t: n for t, n in after.items() if t != "operators"} == {
        t: n for t, n in before.items() if t != "operators"
    }
    assert await store.get_site(doomed.id) is None
    assert await store.authenticate_api_key(doomed_key) is None
    assert [s.id for s in await store.list_sites()] == [kept.id]
    assert await store.get_site(kept.id) == kept
    assert not await store.delete_site(doomed.id)  # gone already


async def test_a_subscribe_to_a_site_deleted_since_it_was_read_stores_nothing(
    store: Store,
) -> None:
    # The browser-facing routes read a site from a cache kept for a moment (api/site_cache.py):
    # the write must refuse a site deleted meanwhile, not fail on its foreign key.
    gone, _ = await store.create_site("gone", ["https://gone.example"])
    kept, _ = await store.create_site("kept", ["https://kept.example"])
    assert await store.delete_site(gone.id)
    new = NewSubscription(endpoint=FCM + "gone-1", p256dh=VALID_P256DH, auth=VALID_AUTH)
    with pytest.raises(SiteGone):
        await store.upsert_subscription(gone.id, new)
    # In one group commit with a live site's subscribe, only the gone site's is refused.
    other = NewSubscription(endpoint=FCM + "kept-1", p256dh=VALID_P256DH, auth=VALID_AUTH)
    answers = await asyncio.gather(
        store.upsert_subscription(gone.id, new),
        store.upsert_subscription(kept.id, other),
        return_exceptions=True,
    )
    assert isinstance(answers[0], SiteGone)
    assert not isinstance(answers[1], BaseException) and answers[1][1] is True
    assert await store.count_subscriptions(gone.id, up_to=10) == 0
    assert await store.count_subscriptions(kept.id, up_to=10) == 1
