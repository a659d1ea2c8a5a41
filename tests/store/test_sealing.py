"""VAPID private keys at rest: sealed with PUSHGATE_SECRET_KEY, readable, rotatable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pushgate.settings import Settings, SettingsError
from pushgate.store import SealedKeyUnavailable, open_store
from pushgate.store.sealing import generate_key, parse_secret_keys
from pushgate.testing.validation import VapidVerifier
from pushgate.webpush.vapid import VapidSigner

AUDIENCE = "https://push.example"


def settings(tmp_path: Path, secret_key: str = "") -> Settings:
    return Settings(database=f"sqlite:///{tmp_path / 'db.sqlite'}", secret_key=secret_key)


def stored_private_keys(tmp_path: Path) -> list[str]:
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        return [row[0] for row in db.execute("SELECT vapid_private_key FROM sites")]


def database_bytes(tmp_path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in tmp_path.glob("db.sqlite*"))


def signs_with_its_key(private_key: str, public_key: str) -> bool:
    from pushgate.webpush.vapid import VapidKeyPair

    signer = VapidSigner(VapidKeyPair(private_key, public_key), "mailto:ops@news.example")
    identity = VapidVerifier(AUDIENCE).verify(signer.authorization(f"{AUDIENCE}/x"))
    return identity.public_key == public_key


async def test_sealed_private_key_is_not_in_the_database_and_still_signs(tmp_path: Path) -> None:
    key = generate_key()
    async with open_store(settings(tmp_path, key)) as store:
        site, _ = await store.create_site("news", ["https://news.example"])
        while_open = database_bytes(tmp_path)
    private_key = site.vapid.private_key
    assert private_key.encode() not in while_open + database_bytes(tmp_path)
    assert stored_private_keys(tmp_path)[0].startswith("fernet:")
    async with open_store(settings(tmp_path, key)) as store:
        again = await store.get_site(site.id)
    assert again is not None and again.vapid == site.vapid
    assert signs_with_its_key(again.vapid.private_key, again.vapid.public_key)


async def test_without_a_secret_key_private_keys_stay_plain(tmp_path: Path) -> None:
    async with open_store(settings(tmp_path)) as store:
        site, _ = await store.create_site("news", ["https://news.example"])
    assert stored_private_keys(tmp_path) == [site.vapid.private_key]


async def test_sealed_keys_without_the_secret_key_fail_at_open(tmp_path: Path) -> None:
    async with open_store(settings(tmp_path, generate_key())) as store:
        await store.create_site("news", ["https://news.example"])
    with pytest.raises(SealedKeyUnavailable, match="set PUSHGATE_SECRET_KEY"):
        async with open_store(settings(tmp_path)):
            pass
    with pytest.raises(SealedKeyUnavailable, match="does not hold"):
        async with open_store(settings(tmp_path, generate_key())):
            pass


async def test_rotate_with_new_and_old_then_open_with_new_alone(tmp_path: Path) -> None:
    old, new = generate_key(), generate_key()
    async with open_store(settings(tmp_path, old)) as store:
        site, _ = await store.create_site("news", ["https://news.example"])
    before = stored_private_keys(tmp_path)
    async with open_store(settings(tmp_path, f"{new},{old}")) as store:
        assert await store.reseal_site_keys() == 1
    assert stored_private_keys(tmp_path) != before
    async with open_store(settings(tmp_path, new)) as store:
        again = await store.get_site(site.id)
    assert again is not None and again.vapid == site.vapid
    with pytest.raises(SealedKeyUnavailable):
        async with open_store(settings(tmp_path, old)):
            pass


async def test_rotate_encrypts_plain_keys_and_wipes_their_old_bytes(tmp_path: Path) -> None:
    async with open_store(settings(tmp_path)) as store:
        sites = [(await store.create_site(f"s{i}", ["https://a.example"]))[0] for i in range(3)]
    assert sites[0].vapid.private_key.encode() in database_bytes(tmp_path)
    key = generate_key()
    async with open_store(settings(tmp_path, key)) as store:
        assert await store.reseal_site_keys() == 3
        for site in sites:
            assert (await store.get_site(site.id)) == site
    assert all(value.startswith("fernet:") for value in stored_private_keys(tmp_path))
    leftover = database_bytes(tmp_path)
    assert not [s.id for s in sites if s.vapid.private_key.encode() in leftover]


async def test_plain_keys_in_a_sealed_gateway_are_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with open_store(settings(tmp_path)) as store:
        await store.create_site("news", ["https://news.example"])
    async with open_store(settings(tmp_path, generate_key())):
        pass
    assert "1 of 1 VAPID private keys are stored in plain text" in caplog.text


@pytest.mark.parametrize("value", ["not-a-key", "abc,def", "A" * 43, "A" * 42 + "=="])
def test_a_secret_key_that_is_not_a_fernet_key_is_a_settings_error(value: str) -> None:
    with pytest.raises(SettingsError, match="not a Fernet key"):
        parse_secret_keys(value)


def test_secret_keys_are_comma_separated_newest_first() -> None:
    new, old = generate_key(), generate_key()
    assert parse_secret_keys(f" {new} , {old} ") == (new, old)
    assert parse_secret_keys("") == ()
