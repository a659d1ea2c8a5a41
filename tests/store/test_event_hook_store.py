"""Event hooks in the store, on both backends: hooks per site with their secret sealed and read
back; an outbox read oldest first; a hook leased to one dispatcher at a time and only while it
has events waiting and is due; an attempt deletes what was sent, sets the backoff, releases the
lease and keeps only the last attempts; old events dropped and counted; delivery events read
the notification's and subscriptions' ids from their keys."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cryptography.fernet import Fernet

from pushgate.settings import Settings
from pushgate.store import Store, open_store
from pushgate.store.event_hook_rows import AttemptResult, EventHook, HookAttempt, HookEvent
from pushgate.store.models import NewSubscription
from tests.api.test_subscriptions import FCM, VALID_AUTH, VALID_P256DH


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    async with open_store(database_url) as store:
        yield store


def a_hook(site_id: str, hook_id: str, events: tuple[str, ...] = ("clicked",)) -> EventHook:
    return EventHook(hook_id, site_id, "https://crm.example/in", events, "k" * 20, 1.0)


async def test_hooks_are_kept_per_site_and_routes_list_them_all(store: Store) -> None:
    site, _ = await store.create_site("news", ["https://news.example"])
    other, _ = await store.create_site("other", ["https://other.example"])
    first, second = a_hook(site.id, "eh_1", ("sent", "gone")), a_hook(site.id, "eh_2")
    for hook in (first, second, a_hook(other.id, "eh_3")):
        await store.create_event_hook(hook)
    assert await store.list_event_hooks(site.id) == [first, second]
    assert await store.get_event_hook(site.id, "eh_1") == first
    assert await store.get_event_hook(other.id, "eh_1") is None
    assert sorted(await store.event_hook_routes()) == sorted(
        [(site.id, "eh_1", ("sent", "gone")), (site.id, "eh_2", ("clicked",)),
         (other.id, "eh_3", ("clicked",))]
    )  # fmt: skip
    assert not await store.delete_event_hook(other.id, "eh_1")
    assert await store.delete_event_hook(site.id, "eh_1")
    assert [h.id for h in await store.list_event_hooks(site.id)] == ["eh_2"]


async def test_a_hook_is_leased_while_due_with_events_and_an_attempt_releases_it(
    store: Store,
) -> None:
    site, _ = await store.create_site("news", ["https://news.example"])
    await store.create_event_hook(a_hook(site.id, "eh_1"))
    assert await store.claim_event_hooks(10.0, 70.0, 8) == []  # nothing waiting
    events = [HookEvent("clicked", 5.0 + n, f"sub-{n}", "n-1", "read") for n in range(3)]
    await store.enqueue_hook_events([("eh_1", e) for e in events])
    claimed = await store.claim_event_hooks(10.0, 70.0, 8)
    assert [h.id for h in claimed] == ["eh_1"]
    assert await store.claim_event_hooks(11.0, 71.0, 8) == []  # leased
    waiting = await store.hook_outbox("eh_1", 2)
    assert [e for _, e in waiting] == events[:2]

    failed = AttemptResult(HookAttempt(12.0, 500, "HTTP 500", 2), (), 17.0, 5.0)
    await store.finish_hook_attempt("eh_1", failed, keep=100)
    assert await store.claim_event_hooks(16.0, 76.0, 8) == []  # backing off until 17
    again = await store.claim_event_hooks(17.0, 77.0, 8)
    assert again[0].backoff == 5.0 and again[0].next_attempt_at == 17.0
    took = AttemptResult(HookAttempt(18.0, 200, None, 2), [k for k, _ in waiting], 18.0, 0.0)
    await store.finish_hook_attempt("eh_1", took, keep=100)
    assert [e for _, e in await store.hook_outbox("eh_1", 100)] == events[2:]
    assert await store.hook_attempts("eh_1", 10) == [took.attempt, failed.attempt]

    assert await store.drop_hook_events("eh_1", before=7.5) == 1  # the one at 7.0
    assert await store.hook_outbox("eh_1", 100) == []
    hook = await store.get_event_hook(site.id, "eh_1")
    assert hook is not None and hook.dropped == 1 and hook.backoff == 0.0


async def test_only_the_last_attempts_are_kept(store: Store) -> None:
    site, _ = await store.create_site("news", ["https://news.example"])
    await store.create_event_hook(a_hook(site.id, "eh_1"))
    for n in range(5):
        attempt = AttemptResult(HookAttempt(float(n), 200, None, 1), (), float(n), 0.0)
        await store.finish_hook_attempt("eh_1", attempt, keep=3)
    assert [a.at for a in await store.hook_attempts("eh_1", 10)] == [4.0, 3.0, 2.0]


async def test_delivery_events_name_the_notification_and_subscriptions(store: Store) -> None:
    site, _ = await store.create_site("news", ["https://news.example"])
    await store.create_event_hook(a_hook(site.id, "eh_1", ("sent",)))
    await store.create_event_hook(a_hook(site.id, "eh_2", ("sent",)))
    subs = [
        (await store.upsert_subscription(
            site.id, NewSubscription(f"{FCM}-{n}", VALID_P256DH, VALID_AUTH)
        ))[0]
        for n in range(2)
    ]  # fmt: skip
    endpoint = f"{FCM}-1"
    assert await store.subscription_id_by_endpoint(site.id, endpoint) == subs[1].id
    assert await store.subscription_id_by_endpoint(site.id, "https://nowhere") is None
    notification_key, notification_id = await _a_notification(store, site.id)
    assert await store.notification_site(notification_key) == site.id
    keys = [await _key_of(store, s.id) for s in subs]
    await store.enqueue_delivery_events(["eh_1", "eh_2"], "sent", notification_key, keys, 9.0)
    for hook_id in ("eh_1", "eh_2"):
        events = [e for _, e in await store.hook_outbox(hook_id, 10)]
        assert sorted(e.subscription_id for e in events) == sorted(s.id for s in subs)
        assert {(e.type, e.notification_id, e.at) for e in events} == {
            ("sent", notification_id, 9.0)
        }


async def _a_notification(store: Store, site_id: str) -> tuple[int, str]:
    sql = (
        "INSERT INTO notifications (id, site_id, payload, audience, ttl, request_hash, "
        "created_at) VALUES ('n-hooks', ?, '{}', '{}', 60, 'h', 1.0)"
    )
    if type(store).__name__.startswith("Postgres"):
        async with store._transaction() as db:  # type: ignore[attr-defined]
            await db.execute(sql.replace("?", "$1"), site_id)
        row = await store._one("SELECT key FROM notifications WHERE id = 'n-hooks'")  # type: ignore[attr-defined]
    else:
        async with store._transaction() as db:  # type: ignore[attr-defined]
            await db.execute(sql, (site_id,))
        row = await store._one("SELECT key FROM notifications WHERE id = 'n-hooks'")  # type: ignore[attr-defined]
    return int(row[0]), "n-hooks"


async def _key_of(store: Store, subscription_id: str) -> int:
    if type(store).__name__.startswith("Postgres"):
        row = await store._one(  # type: ignore[attr-defined]
            "SELECT key FROM subscriptions WHERE id = $1", subscription_id
        )
    else:
        row = await store._one(  # type: ignore[attr-defined]
            "SELECT key FROM subscriptions WHERE id = ?", (subscription_id,)
        )
    return int(row[0])


async def test_hook_secrets_are_sealed_and_resealed_with_the_newest_key(database_url: str) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    async with open_store(Settings(database=database_url, secret_key=old)) as store:
        site, _ = await store.create_site("news", ["https://news.example"])
        await store.create_event_hook(a_hook(site.id, "eh_1"))
        stored = await _stored_secret(store)
        assert stored.startswith("fernet:") and "k" * 20 not in stored
    async with open_store(Settings(database=database_url, secret_key=f"{new},{old}")) as store:
        await store.reseal_site_keys()
    async with open_store(Settings(database=database_url, secret_key=new)) as store:
        hook = await store.get_event_hook(site.id, "eh_1")
        assert hook is not None and hook.secret == "k" * 20


async def _stored_secret(store: Store) -> str:
    row = await store._one("SELECT secret FROM event_hooks")  # type: ignore[attr-defined]
    return str(row[0])
