"""The dashboard's store verbs (operators, sessions, failed logins, site summaries), each on
both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pushgate.store import Store, open_store
from pushgate.store.models import NewSubscription
from pushgate.store.operator_rows import Operator, OperatorExists

NOW = 1_800_000_000.0


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    async with open_store(database_url) as opened:
        yield opened


def _operator(email: str, role: str = "admin", sites: tuple[str, ...] = ()) -> Operator:
    return Operator(f"op_{email.split('@')[0]}", email, role, "hash-1", NOW, NOW, sites)


async def test_operator_is_stored_with_its_sites_and_found_by_id_and_email(store: Store) -> None:
    news, _ = await store.create_site("news", ["https://news.example"])
    shop, _ = await store.create_site("shop", ["https://shop.example"])
    editor = _operator("ed@example.com", "editor", (shop.id, news.id))
    await store.create_operator(editor)
    await store.create_operator(_operator("admin@example.com"))

    found = await store.operator_by_email("ed@example.com")
    assert found is not None
    assert found.role == "editor" and not found.is_admin
    assert sorted(found.site_ids) == sorted((news.id, shop.id))
    assert await store.get_operator(editor.id) == found
    assert await store.operator_by_email("nobody@example.com") is None
    listed = await store.list_operators()
    assert [o.email for o in listed] == ["admin@example.com", "ed@example.com"]
    assert listed[0].site_ids == () and sorted(listed[1].site_ids) == sorted((news.id, shop.id))


async def test_operator_with_a_taken_email_is_refused_and_nothing_is_stored(store: Store) -> None:
    site, _ = await store.create_site("news", ["https://news.example"])
    await store.create_operator(_operator("ed@example.com"))
    twin = Operator("op_other", "ed@example.com", "editor", "hash-2", NOW, NOW, (site.id,))
    with pytest.raises(OperatorExists):
        await store.create_operator(twin)
    assert await store.get_operator("op_other") is None
    assert [o.id for o in await store.list_operators()] == ["op_ed"]


async def test_new_password_with_end_sessions_ends_them_and_without_keeps_them(
    store: Store,
) -> None:
    await store.create_operator(_operator("ed@example.com"))
    await store.create_dashboard_session("t1", "op_ed", "csrf-1", NOW, NOW + 100)
    assert await store.set_operator_password("op_ed", "hash-2", NOW + 1, end_sessions=False)
    session = await store.dashboard_session("t1", NOW + 2)
    assert session is not None and session.operator.password_hash == "hash-2"
    assert await store.set_operator_password("op_ed", "hash-3", NOW + 3, end_sessions=True)
    assert await store.dashboard_session("t1", NOW + 4) is None
    assert not await store.set_operator_password("op_nobody", "h", NOW, end_sessions=True)


async def test_session_reads_its_operator_until_it_expires_or_ends(store: Store) -> None:
    await store.create_operator(_operator("ed@example.com"))
    await store.create_dashboard_session("t1", "op_ed", "csrf-1", NOW, NOW + 100)
    await store.create_dashboard_session("t2", "op_ed", "csrf-2", NOW, NOW + 100)
    session = await store.dashboard_session("t1", NOW + 99)
    assert session is not None
    assert (session.csrf_token, session.operator.email) == ("csrf-1", "ed@example.com")
    assert session.expires_at == NOW + 100
    assert await store.dashboard_session("t1", NOW + 100) is None  # expired
    assert await store.dashboard_session("nope", NOW) is None
    await store.end_dashboard_session("t1")
    assert await store.dashboard_session("t1", NOW) is None
    assert await store.dashboard_session("t2", NOW) is not None


async def test_deleting_an_operator_ends_its_sessions(store: Store) -> None:
    await store.create_operator(_operator("ed@example.com"))
    await store.create_dashboard_session("t1", "op_ed", "csrf-1", NOW, NOW + 100)
    assert await store.delete_operator("ed@example.com")
    assert not await store.delete_operator("ed@example.com")
    assert await store.dashboard_session("t1", NOW) is None
    assert await store.list_operators() == []


async def test_login_failures_are_counted_per_subject_and_old_ones_forgotten(
    store: Store,
) -> None:
    subjects = ["email:ed@example.com", "address:127.0.0.1"]
    await store.record_login_failure(subjects, NOW, forget_before=NOW - 60)
    await store.record_login_failure(subjects[1:], NOW + 10, forget_before=NOW - 50)
    found = await store.login_failures(subjects, NOW)
    assert found[-1] == ("address:127.0.0.1", NOW + 10)  # oldest first
    assert sorted(found[:2]) == [("address:127.0.0.1", NOW), ("email:ed@example.com", NOW)]
    assert await store.login_failures(subjects, NOW + 5) == [("address:127.0.0.1", NOW + 10)]
    assert await store.login_failures([], NOW) == []
    await store.forget_login_failures("email:ed@example.com")
    assert [s for s, _ in await store.login_failures(subjects, 0)] == ["address:127.0.0.1"] * 2
    # A later failure's write deletes what is older than its `forget_before`.
    await store.record_login_failure(subjects[:1], NOW + 100, forget_before=NOW + 50)
    assert await store.login_failures(subjects, 0) == [("email:ed@example.com", NOW + 100)]


async def test_site_summaries_count_subscribers_of_the_sites_asked_for(store: Store) -> None:
    news, _ = await store.create_site("news", ["https://news.example", "https://www.news.example"])
    shop, _ = await store.create_site("a shop", ["https://shop.example"])
    subs = [NewSubscription(f"https://127.0.0.1:9/push/{i}", "p", "a") for i in range(3)]
    await store.add_subscriptions_bulk(news.id, subs)

    every = await store.site_summaries(None)
    assert [(s.name, s.subscribers) for s in every] == [("a shop", 0), ("news", 3)]
    assert every[1].origins == ("https://news.example", "https://www.news.example")
    assert [s.id for s in await store.site_summaries([news.id])] == [news.id]
    assert await store.site_summaries([]) == []
    assert await store.site_summaries(["no-such-site"]) == []
