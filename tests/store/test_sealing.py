"""VAPID private keys at rest: sealed with PUSHGATE_SECRET_KEY, readable, rotatable; on both
backends, looking at what is stored and at the database's bytes on disk."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
import pytest

from pushgate.settings import Settings, SettingsError
from pushgate.store import SealedKeyUnavailable, open_store
from pushgate.store.sealing import generate_key, parse_secret_keys
from pushgate.testing.postgres import LocalPostgres
from pushgate.testing.validation import VapidVerifier
from pushgate.webpush.vapid import VapidSigner

AUDIENCE = "https://push.example"


def settings(database_url: str, secret_key: str = "") -> Settings:
    return Settings(database=database_url, secret_key=secret_key)


async def stored_private_keys(database_url: str) -> list[str]:
    if not settings(database_url).uses_postgres:
        with sqlite3.connect(settings(database_url).sqlite_path) as db:
            return [row[0] for row in db.execute("SELECT vapid_private_key FROM sites")]
    conn = await asyncpg.connect(database_url)
    try:
        return [row[0] for row in await conn.fetch("SELECT vapid_private_key FROM sites")]
    finally:
        await conn.close()


async def database_bytes(database_url: str, request: pytest.FixtureRequest) -> bytes:
    """The database's files: SQLite's file and WAL; PostgreSQL's table files (after a
    checkpoint) and the cluster's write-ahead log."""
    if not settings(database_url).uses_postgres:
        path = settings(database_url).sqlite_path
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    cluster: LocalPostgres = request.getfixturevalue("postgres_cluster")
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("CHECKPOINT")
        oid = await conn.fetchval("SELECT oid FROM pg_database WHERE datname = current_database()")
    finally:
        await conn.close()
    files = [*(cluster.data / "base" / str(oid)).iterdir(), *(cluster.data / "pg_wal").iterdir()]
    return b"".join(p.read_bytes() for p in files if p.is_file())


def signs_with_its_key(private_key: str, public_key: str) -> bool:
    from pushgate.webpush.vapid import VapidKeyPair

    signer = VapidSigner(VapidKeyPair(private_key, public_key), "mailto:ops@news.example")
    identity = VapidVerifier(AUDIENCE).verify(signer.authorization(f"{AUDIENCE}/x"))
    return identity.public_key == public_key


async def test_sealed_private_key_is_not_in_the_database_and_still_signs(
    database_url: str, request: pytest.FixtureRequest
) -> None:
    key = generate_key()
    async with open_store(settings(database_url, key)) as store:
        site, _ = await store.create_site("news", ["https://news.example"])
        while_open = await database_bytes(database_url, request)
    private_key = site.vapid.private_key
    assert private_key.encode() not in while_open + await database_bytes(database_url, request)
    assert (await stored_private_keys(database_url))[0].startswith("fernet:")
    async with open_store(settings(database_url, key)) as store:
        again = await store.get_site(site.id)
    assert again is not None and again.vapid == site.vapid
    assert signs_with_its_key(again.vapid.private_key, again.vapid.public_key)


async def test_without_a_secret_key_private_keys_stay_plain(database_url: str) -> None:
    async with open_store(settings(database_url)) as store:
        site, _ = await store.create_site("news", ["https://news.example"])
    assert await stored_private_keys(database_url) == [site.vapid.private_key]


async def test_sealed_keys_without_the_secret_key_fail_at_open(database_url: str) -> None:
    async with open_store(settings(database_url, generate_key())) as store:
        await store.create_site("news", ["https://news.example"])
    with pytest.raises(SealedKeyUnavailable, match="set PUSHGATE_SECRET_KEY"):
        async with open_store(settings(database_url)):
            pass
    with pytest.raises(SealedKeyUnavailable, match="does not hold"):
        async with open_store(settings(database_url, generate_key())):
            pass


async def test_rotate_with_new_and_old_then_open_with_new_alone(database_url: str) -> None:
    old, new = generate_key(), generate_key()
    async with open_store(settings(database_url, old)) as store:
        site, _ = await store.create_site("news", ["https://news.example"])
    before = await stored_private_keys(database_url)
    async with open_store(settings(database_url, f"{new},{old}")) as store:
        assert await store.reseal_site_keys() == 1
    assert await stored_private_keys(database_url) != before
    async with open_store(settings(database_url, new)) as store:
        again = await store.get_site(site.id)
    assert again is not None and again.vapid == site.vapid
    with pytest.raises(SealedKeyUnavailable):
        async with open_store(settings(database_url, old)):
            pass


async def test_rotate_encrypts_plain_keys(
    database_url: str, request: pytest.FixtureRequest
) -> None:
    async with open_store(settings(database_url)) as store:
        sites = [(await store.create_site(f"s{i}", ["https://a.example"]))[0] for i in range(3)]
    # The bytes read are the right ones: a plain key is found in them (so the sealed test's
    # "not found" means something on both backends).
    assert sites[0].vapid.private_key.encode() in await database_bytes(database_url, request)
    key = generate_key()
    async with open_store(settings(database_url, key)) as store:
        assert await store.reseal_site_keys() == 3
        for site in sites:
            assert (await store.get_site(site.id)) == site
    assert all(value.startswith("fernet:") for value in await stored_private_keys(database_url))


async def test_rotate_wipes_the_old_bytes_of_plain_keys_in_sqlite(tmp_path: Path) -> None:
    # SQLite only: PostgreSQL keeps old row versions until VACUUM, and its write-ahead log.
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    async with open_store(settings(url)) as store:
        sites = [(await store.create_site(f"s{i}", ["https://a.example"]))[0] for i in range(3)]
    async with open_store(settings(url, generate_key())) as store:
        assert await store.reseal_site_keys() == 3
    leftover = b"".join(p.read_bytes() for p in tmp_path.glob("db.sqlite*"))
    assert not [s.id for s in sites if s.vapid.private_key.encode() in leftover]


async def test_plain_keys_in_a_sealed_gateway_are_reported(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with open_store(settings(database_url)) as store:
        await store.create_site("news", ["https://news.example"])
    async with open_store(settings(database_url, generate_key())):
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
