"""`pushgate copy-db`: an installation made through the real CLI and HTTP API on SQLite, copied
into PostgreSQL row for row (every table, every key, types converted), identities moved past
the keys SQLite gave, and every refusal leaving the target as it was."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet

from pushgate.copy_db import TABLES, copy_sqlite_to_postgres
from pushgate.store.migrations import SCHEMA_VERSION
from pushgate.testing import LocalPushService, SimulatedBrowser
from tests.automation.feed_server import feed_server
from tests.automation.feeds import rss
from tests.conftest import (
    ORIGIN,
    Gateway,
    Site,
    site_of,
    subscribe_all,
    wait_until_done,
)
from tests.test_cli import run

TYPED_TAGS = {"topic": "sports", "score": 5, "ratio": 0.25, "pro": True, "digits": "5"}


@dataclass
class Installation:
    path: Path
    site: Site
    secret_key: str
    browsers: list[SimulatedBrowser]  # the last one unsubscribed after the notification
    notification_id: str
    read_back: dict[str, Any]  # what the SQLite gateway answered, to compare with PostgreSQL's
    port: int  # the SQLite gateway's, free again once it stopped

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"


@pytest.fixture
async def installation(push_service: LocalPushService, gateway_factory: Any) -> Installation:
    """A stopped gateway's SQLite file holding a row in every table: a site with sealed VAPID
    keys and delivery rules, typed tags, a delivered notification with an event, a segment,
    and a deleted subscription (so AUTOINCREMENT's mark is above the highest key left)."""
    secret_key = Fernet.generate_key().decode()
    async with feed_server() as feeds:
        feeds.files["/news.xml"] = rss(
            [{"guid": "g1", "title": "t", "link": "https://n.example/1"}]
        )
        env = {"PUSHGATE_SECRET_KEY": secret_key, "PUSHGATE_ALLOWED_FEED_HOSTS": feeds.host}
        return await _install(push_service, gateway_factory(push_service.host_port, **env), feeds)


async def _install(push_service: LocalPushService, gateway: Any, feeds: Any) -> Installation:
    secret_key = gateway.extra_env["PUSHGATE_SECRET_KEY"]
    site = site_of(gateway)
    browsers = [push_service.new_browser() for _ in range(6)]
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
        profile: dict[str, Any] = {
            "timezone": "Europe/Berlin",
            "language": "de",
            "external_id": "user-1",
        }
        await subscribe_all(client, site, browsers[:2], tags=TYPED_TAGS, **profile)
        await subscribe_all(client, site, browsers[2:5], tags={"topic": "news", "pro": False})
        last = (await subscribe_all(client, site, browsers[5:]))[0]
        sent = await admin(client, site, "POST", "/api/v1/notifications", {"title": "t"})
        await wait_until_done(client, site, sent["id"])
        # After the send: quiet hours read the wall clock here, and 22:00-06:00 UTC would
        # hold the notification whenever this test runs at night.
        await admin(client, site, "PATCH", "/api/v1/site", QUIET_HOURS)
        await admin(client, site, "PATCH", "/api/v1/site", PROMPT_VARIANTS)
        token = browsers[0].messages[0].json()["pushgate"]["token"]
        event = {"token": token, "type": "clicked", "action": "read"}
        answer = await client.post("/v1/events", json=event, headers={"Origin": ORIGIN})
        assert answer.status_code == 204, answer.text
        await admin(client, site, "POST", "/api/v1/segments", SEGMENT)
        await admin(client, site, "POST", "/api/v1/webhooks", WEBHOOK)
        await admin(client, site, "POST", "/api/v1/triggers", TRIGGER)
        await admin(client, site, "POST", "/api/v1/events", EVENT)
        await wait_for_run(client, site)
        await admin(
            client, site, "POST", "/api/v1/feeds", {"url": feeds.url("/news.xml"), "interval": "1h"}
        )
        await wait_for_poll(client, site)
        await admin(client, site, "DELETE", f"/api/v1/subscriptions/{last}")
        read_back = await read_through_api(client, site, sent["id"])
    gateway.stop()
    path = Path(gateway.database.removeprefix("sqlite:///"))
    add_dashboard_rows(path, site.id)
    return Installation(path, site, secret_key, browsers, sent["id"], read_back, gateway.port)


def add_dashboard_rows(path: Path, site_id: str) -> None:
    """An operator with a site, a session and a failed login, as the dashboard keeps them."""
    db = sqlite3.connect(path)
    try:
        with db:
            db.execute(
                "INSERT INTO operators VALUES ('op_1', 'ed@news.example', 'editor', "
                "'$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g', 1.5, 2.5)"
            )
            db.execute("INSERT INTO operator_sites VALUES ('op_1', ?)", (site_id,))
            db.execute(
                "INSERT INTO dashboard_sessions VALUES ('ab' || hex(randomblob(31)), 'op_1', "
                "'csrf', 1.5, 9e9)"
            )
            db.execute("INSERT INTO login_failures VALUES ('email:ed@news.example', 3.5)")
            db.execute(
                "INSERT INTO prompt_event_counts VALUES (?, '2026-12-02', 'a', 'shown', 3)",
                (site_id,),
            )
            add_event_hook_rows(db, site_id)
    finally:
        db.close()


def add_event_hook_rows(db: sqlite3.Connection, site_id: str) -> None:
    """An event hook (never due, so the running gateway leaves it), an event waiting for it and
    an attempt (issue #12 part 8)."""
    db.execute(
        "INSERT INTO event_hooks VALUES ('eh_1', ?, 'https://crm.invalid/in', '[\"clicked\"]', "
        "'a-plain-secret-of-20', 1.5, 9e9, 5.0, 0, 2)",
        (site_id,),
    )
    db.execute(
        "INSERT INTO event_hook_outbox (hook_id, type, at, notification_id, subscription_id, "
        "action) VALUES ('eh_1', 'clicked', 9e9, 'n-1', 's-1', 'read')"
    )
    db.execute("INSERT INTO event_hook_attempts (hook_id, at, status, error, event_count) "
               "VALUES ('eh_1', 2.5, NULL, 'no answer within 10 s', 1)")  # fmt: skip


PROMPT_VARIANTS = {
    "prompt_variants": [
        {"id": "a", "text": "News?", "accept": "Yes", "dismiss": "No", "weight": 60}
    ]
}
QUIET_HOURS = {"quiet_hours": {"start": "22:00", "end": "06:00", "allow_high_urgency": True}}
WEBHOOK = {
    "name": "cms",
    "notification": {"title": "{{ payload.title }}"},
    "secret": "0123456789abcdef-secret",
    "dedupe_key": "{{ payload.id }}",
}
TRIGGER = {
    "name": "cart reminder",
    "when": {"event": "cart_add"},
    "delay": "1d",
    "action": {"send": {"title": "Your cart is waiting"}},
}
EVENT = {"name": "cart_add", "external_id": "user-1", "props": {"cart_id": "c1"}, "id": "e1"}
SEGMENT = {"name": "sports", "filter": {"field": "tags.score", "op": "gte", "value": 5}}


async def wait_for_run(client: httpx.AsyncClient, site: Site) -> None:
    """Until the trigger engine has read the event into a pending run."""
    for _ in range(100):
        listed = await admin(client, site, "GET", "/api/v1/triggers")
        if listed["data"][0]["stats"]["pending"] == 1:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the trigger engine did not start a run")


async def wait_for_poll(client: httpx.AsyncClient, site: Site) -> None:
    """Until the feed poller has recorded the feed's first entries."""
    for _ in range(100):
        listed = await admin(client, site, "GET", "/api/v1/feeds")
        if listed["data"][0]["last_poll"] is not None:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the feed poller did not poll")


async def admin(
    client: httpx.AsyncClient, site: Site, method: str, path: str, body: Any = None
) -> Any:
    answer = await client.request(method, path, json=body, headers=site.admin_headers)
    assert answer.status_code < 300, answer.text
    return answer.json() if answer.content else None


async def read_through_api(
    client: httpx.AsyncClient, site: Site, notification_id: str
) -> dict[str, Any]:
    paths = (
        "/api/v1/site",
        "/api/v1/subscriptions?limit=100",
        f"/api/v1/notifications/{notification_id}",
        "/api/v1/segments/sports",
        "/api/v1/webhooks",
        "/api/v1/triggers",
    )
    read = {path: await admin(client, site, "GET", path) for path in paths}
    config = await client.get(f"/v1/sites/{site.id}/config", headers={"Origin": ORIGIN})
    return read | {"config": config.json()}


def sqlite_rows(path: Path, table: str) -> list[dict[str, Any]]:
    db = sqlite3.connect(path)
    try:
        db.row_factory = sqlite3.Row
        rows = [dict(row) for row in db.execute(f"SELECT * FROM {table}")]
    finally:
        db.close()
    if table == "meta":  # BYTEA on PostgreSQL: text values become their UTF-8 bytes
        rows = [row | {"value": _bytes(row["value"])} for row in rows]
    return sorted(rows, key=repr)


def _bytes(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


async def pg_rows_as_sqlite(url: str, table: str) -> list[dict[str, Any]]:
    """PostgreSQL's rows in SQLite's terms: booleans as 1/0, the typed tag columns as one."""
    conn = await asyncpg.connect(url)
    try:
        rows = [dict(row) for row in await conn.fetch(f"SELECT * FROM {table}")]
    finally:
        await conn.close()
    if table == "subscription_tags":
        for row in rows:
            text, number = row.pop("str_value"), row.pop("num_value")
            row["value"] = text if row["kind"] == "string" else number
    return sorted(
        ({k: int(v) if isinstance(v, bool) else v for k, v in row.items()} for row in rows),
        key=repr,
    )


async def assert_same_rows(path: Path, url: str) -> None:
    for table in TABLES:
        source = sqlite_rows(path, table)
        assert source, f"the installation has no {table} rows"
        assert await pg_rows_as_sqlite(url, table) == source, table


async def pg_value(url: str, sql: str) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def autoincrement_marks(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        return {name: int(seq) for name, seq in db.execute("SELECT * FROM sqlite_sequence")}
    finally:
        db.close()


async def test_copy_db_copies_every_row_and_key_and_advances_the_identities(
    installation: Installation, postgres_url: str, tmp_path: Path
) -> None:
    path = installation.path
    out = run("copy-db", "--from", installation.url, "--to", postgres_url, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"migrated {postgres_url} from schema 0 to {SCHEMA_VERSION}"
    for table, line in zip(TABLES, lines[2 : 2 + len(TABLES)], strict=True):
        count = len(sqlite_rows(path, table))
        assert line.split() == [table, str(count), str(count)]
    await assert_same_rows(path, postgres_url)

    site = await pg_value(postgres_url, "SELECT row_to_json(sites)::text FROM sites")
    assert '"quiet_hours_allow_high_urgency":true' in site  # a real boolean, from 1
    assert '"vapid_private_key":"fernet:' in site  # sealed, as it was stored
    hook = await pg_value(postgres_url, "SELECT row_to_json(webhooks)::text FROM webhooks")
    assert '"token":"fernet:' in hook and '"secret":"fernet:' in hook
    marks = autoincrement_marks(path)
    max_key = max(row["key"] for row in sqlite_rows(path, "subscriptions"))
    assert marks["subscriptions"] == max_key + 1  # the deleted subscription's key
    for table in ("subscriptions", "notifications"):
        nextval = f"SELECT nextval(pg_get_serial_sequence('{table}', 'key'))"
        assert await pg_value(postgres_url, nextval) == marks[table] + 1, table


async def test_copy_db_refuses_a_target_that_is_not_empty_and_writes_nothing(
    installation: Installation, postgres_url: str, tmp_path: Path
) -> None:
    args = ("copy-db", "--from", installation.url, "--to", postgres_url)
    assert run(*args, cwd=tmp_path).returncode == 0
    conn = await asyncpg.connect(postgres_url)
    try:  # the target's own rows: the copy must leave them, and not add the source's again
        await conn.execute("UPDATE meta SET value = 'mine' WHERE key = 'event_secret'")
        await conn.execute(
            "DELETE FROM subscriptions WHERE key = (SELECT min(key) FROM subscriptions)"
        )
    finally:
        await conn.close()
    before = {table: await pg_rows_as_sqlite(postgres_url, table) for table in TABLES}

    again = run(*args, cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr == (
        "Error: copy-db: the target database is not empty (sites has rows): copy-db writes "
        "only into a new, empty database\n"
    )
    assert again.stdout == ""
    assert {table: await pg_rows_as_sqlite(postgres_url, table) for table in TABLES} == before


async def test_copy_db_rolls_everything_back_when_a_count_differs(
    installation: Installation, postgres_url: str, tmp_path: Path
) -> None:
    assert run("migrate", "--database", postgres_url, cwd=tmp_path).returncode == 0
    conn = await asyncpg.connect(postgres_url)
    try:  # COPY runs triggers: this one drops every event on its way in
        await conn.execute(
            "CREATE FUNCTION drop_row() RETURNS trigger LANGUAGE plpgsql AS "
            "'BEGIN RETURN NULL; END'; "
            "CREATE TRIGGER drop_events BEFORE INSERT ON events FOR EACH ROW "
            "EXECUTE FUNCTION drop_row()"
        )
    finally:
        await conn.close()

    out = run("copy-db", "--from", installation.url, "--to", postgres_url, cwd=tmp_path)
    assert out.returncode == 1
    assert "events                         1           0  MISMATCH" in out.stdout
    assert "sites                          1           1\n" in out.stdout
    assert out.stderr == (
        "Error: row counts differ: the copy was rolled back, nothing was written\n"
    )
    for table in TABLES:
        assert await pg_value(postgres_url, f"SELECT count(*) FROM {table}") == 0, table


async def test_copy_in_chunks_of_one_row_gives_the_same_rows(
    installation: Installation, postgres_url: str
) -> None:
    result = await copy_sqlite_to_postgres(installation.path, postgres_url, chunk_rows=1)
    assert all(count.equal for count in result.counts)
    await assert_same_rows(installation.path, postgres_url)


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        ("postgresql://u@127.0.0.1/db", "sqlite:///x.db", "from SQLite to PostgreSQL only"),
        ("sqlite:///a.db", "sqlite:///b.db", "from SQLite to PostgreSQL only"),
        ("sqlite://relative", "postgresql://u@127.0.0.1/db", "must be sqlite:///PATH"),
    ],
)
def test_copy_db_refuses_other_directions_before_touching_anything(
    tmp_path: Path, source: str, target: str, message: str
) -> None:
    out = run("copy-db", "--from", source, "--to", target, cwd=tmp_path)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert list(tmp_path.iterdir()) == []


async def test_copy_db_refuses_a_source_at_an_older_schema_or_none(
    postgres_url: str, tmp_path: Path
) -> None:
    old = tmp_path / "old.db"
    assert run("migrate", "--database", f"sqlite:///{old}", cwd=tmp_path).returncode == 0
    db = sqlite3.connect(old)
    db.execute("PRAGMA user_version = 5")
    db.close()
    out = run("copy-db", "--from", f"sqlite:///{old}", "--to", postgres_url, cwd=tmp_path)
    assert out.returncode == 1
    assert f"Run `pushgate migrate --database sqlite:///{old}` first" in out.stderr
    missing = run("copy-db", "--from", "sqlite:///nowhere.db", "--to", postgres_url, cwd=tmp_path)
    assert missing.stderr == "Error: copy-db: no SQLite database at nowhere.db\n"
    assert not (tmp_path / "nowhere.db").exists()
    tables = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
    assert await pg_value(postgres_url, tables) == 0  # the target was not even migrated


async def test_a_copied_installation_serves_the_same_site_and_delivers_with_the_same_key(
    installation: Installation, postgres_url: str, push_service: LocalPushService, tmp_path: Path
) -> None:
    args = ("copy-db", "--from", installation.url, "--to", postgres_url)
    assert run(*args, cwd=tmp_path).returncode == 0
    site = installation.site
    gateway = Gateway(
        postgres_url,
        installation.port,  # the same public URL, now on PostgreSQL
        push_service.host_port,
        extra_env={"PUSHGATE_SECRET_KEY": installation.secret_key},
    )
    gateway.start()
    try:
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
            read = await read_through_api(client, site, installation.notification_id)
            # As JSON text: 5, 5.0 and true are equal in Python, not on the wire.
            assert as_text(read) == as_text(installation.read_back)
            assert read["config"]["vapid_public_key"] == site.vapid_public_key
            listed = read["/api/v1/subscriptions?limit=100"]["data"]
            assert [s["tags"] for s in listed if s["external_id"] == "user-1"] == [TYPED_TAGS] * 2

            # Tokens signed before the move still count, once.
            first, second = (
                b.messages[0].json()["pushgate"]["token"] for b in installation.browsers[:2]
            )
            await event(client, first, "clicked", 409)  # recorded on SQLite, copied
            await event(client, second, "delivered", 204)

            # High urgency passes the copied quiet hours (allow_high_urgency) at any hour.
            moved = {"title": "moved", "urgency": "high"}
            sent = await admin(client, site, "POST", "/api/v1/notifications", moved)
            status = await wait_until_done(client, site, sent["id"])
            assert status["counts"]["accepted"] == 5
            for browser in installation.browsers[:5]:
                assert len(browser.messages) == 2
                message = browser.messages[1]
                assert (
                    message.decrypt_error is None
                    and message.json()["notification"]["title"] == "moved"
                )
                assert message.vapid_public_key == site.vapid_public_key
            assert len(installation.browsers[5].messages) == 1  # unsubscribed before the move
    finally:
        gateway.stop()


def as_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


async def event(client: httpx.AsyncClient, token: str, kind: str, status: int) -> None:
    answer = await client.post(
        "/v1/events", json={"token": token, "type": kind}, headers={"Origin": ORIGIN}
    )
    assert answer.status_code == status, answer.text


@pytest.mark.parametrize(
    ("corruption", "message"),
    [
        (
            "UPDATE sites SET quiet_hours_allow_high_urgency = 2",
            "sites.quiet_hours_allow_high_urgency holds the integer 2: not boolean",
        ),
        (
            "UPDATE sites SET created_at = 'yesterday'",
            "sites.created_at holds the text 'yesterday': not double precision",
        ),
        (
            "UPDATE sites SET frequency_cap_max = 2.5",
            "sites.frequency_cap_max holds the real 2.5: not integer",
        ),
    ],
)
async def test_copy_db_refuses_a_value_it_cannot_convert_exactly_and_writes_nothing(
    postgres_url: str, tmp_path: Path, corruption: str, message: str
) -> None:
    source = f"sqlite:///{tmp_path / 'p.db'}"
    made = run(
        "sites", "create", "--name", "n", "--origin", ORIGIN, "--database", source, cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    db = sqlite3.connect(tmp_path / "p.db")
    with db:
        db.execute(corruption)
    db.close()
    out = run("copy-db", "--from", source, "--to", postgres_url, cwd=tmp_path)
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    assert out.stderr.startswith("Error: copy-db: ") and message in out.stderr, out.stderr
    for table in TABLES:
        assert await pg_value(postgres_url, f"SELECT count(*) FROM {table}") == 0, table
