"""Sites and their API keys in the store, on both backends: sites listed and changed field by
field, names unique; several named keys per site, listed without the key, revoked by id within
their own site, never the last one; a key's last use recorded at most once per interval."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pushgate.store import Store, open_store
from pushgate.store.base import LastApiKey, SiteNameTaken
from pushgate.store.models import SiteChange, SiteRules


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    async with open_store(database_url) as store:
        yield store


async def test_sites_are_listed_in_creation_order(store: Store) -> None:
    assert await store.list_sites() == []
    first, _ = await store.create_site("first", ["https://first.example"])
    second, _ = await store.create_site("second", ["https://second.example"])
    assert await store.list_sites() == [first, second]


async def test_update_site_sets_only_the_given_fields(store: Store) -> None:
    site, _ = await store.create_site("news", ["https://news.example"])
    assert (site.prompt_text, site.prompt_accept, site.prompt_snooze_days) == (None, None, None)
    await store.update_site_rules(
        site.id, SiteRules(default_timezone="Europe/Berlin", given=frozenset({"default_timezone"}))
    )
    change = SiteChange(
        name="News",
        origins=("https://news.example", "https://www.news.example"),
        prompt_text="Breaking news, as it happens?",
        prompt_accept="Yes please",
        prompt_snooze_days=3,
        given=frozenset({"name", "origins", "prompt_text", "prompt_accept", "prompt_snooze_days"}),
    )
    updated = await store.update_site(site.id, change)
    assert updated is not None
    assert (updated.name, updated.origins) == ("News", change.origins)
    assert (updated.prompt_text, updated.prompt_accept, updated.prompt_dismiss) == (
        "Breaking news, as it happens?",
        "Yes please",
        None,
    )
    assert updated.prompt_snooze_days == 3
    assert updated.default_timezone == "Europe/Berlin"  # a rule stays as it was
    assert await store.get_site(site.id) == updated
    reset = SiteChange(given=frozenset({"prompt_text", "prompt_accept"}))
    cleared = await store.update_site(site.id, reset)
    assert cleared is not None and (cleared.prompt_text, cleared.prompt_accept) == (None, None)
    assert cleared.name == "News" and cleared.prompt_snooze_days == 3
    assert await store.update_site("no-such-site", change) is None


async def test_renaming_to_a_taken_name_changes_nothing(store: Store) -> None:
    site, _ = await store.create_site("news", ["https://news.example"])
    await store.create_site("sports", ["https://sports.example"])
    taken = SiteChange(name="sports", origins=("https://x.example",), given=frozenset({"name"}))
    with pytest.raises(SiteNameTaken):
        await store.update_site(site.id, taken)
    assert await store.get_site(site.id) == site


async def test_keys_are_named_listed_without_the_key_and_each_authenticates(store: Store) -> None:
    site, first_key = await store.create_site("news", ["https://news.example"])
    other, _ = await store.create_site("other", ["https://other.example"])
    second, second_key = await store.create_api_key(site.id, "ci", 4_000_000_000.0)
    keys = await store.list_api_keys(site.id)
    assert [k.name for k in keys] == ["default", "ci"]
    assert keys[1] == second and second.last_used_at is None
    assert all(k.id.startswith("key_") and k.site_id == site.id for k in keys)
    assert first_key not in repr(keys) and second_key not in repr(keys)
    for api_key, key in ((first_key, keys[0]), (second_key, second)):
        found = await store.authenticate_api_key(api_key)
        assert found == (site, key)
        assert await store.site_for_api_key(api_key) == site
    assert await store.authenticate_api_key(second_key + "x") is None
    assert [k.name for k in await store.list_api_keys(other.id)] == ["default"]


async def test_revoke_takes_effect_at_once_within_the_site_and_never_for_the_last_key(
    store: Store,
) -> None:
    site, old_key = await store.create_site("news", ["https://news.example"])
    other, _ = await store.create_site("other", ["https://other.example"])
    old = (await store.list_api_keys(site.id))[0]
    new, new_key = await store.create_api_key(site.id, "rotated", 4_000_000_000.0)
    assert not await store.revoke_api_key(other.id, old.id)  # not the other site's key
    assert not await store.revoke_api_key(site.id, "key_unknown")
    assert await store.revoke_api_key(site.id, old.id)
    assert await store.authenticate_api_key(old_key) is None
    assert await store.authenticate_api_key(new_key) == (site, new)
    with pytest.raises(LastApiKey):
        await store.revoke_api_key(site.id, new.id)
    assert await store.list_api_keys(site.id) == [new]
    assert not await store.revoke_api_key(site.id, old.id)  # gone already


async def test_touch_records_a_use_once_per_interval(store: Store) -> None:
    site, api_key = await store.create_site("news", ["https://news.example"])
    key = (await store.list_api_keys(site.id))[0]
    await store.touch_api_key(key.id, 1000.0, if_before=940.0)
    await store.touch_api_key(key.id, 1030.0, if_before=970.0)  # 1000 is recent: kept
    found = await store.authenticate_api_key(api_key)
    assert found is not None and found[1].last_used_at == 1000.0
    await store.touch_api_key(key.id, 1061.0, if_before=1001.0)
    assert (await store.list_api_keys(site.id))[0].last_used_at == 1061.0
