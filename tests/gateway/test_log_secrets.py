"""A whole session at --log-level debug leaves no secret in the gateway's output.

The gateway runs as `pushgate serve` with PUSHGATE_SECRET_KEY set; a site is created, browsers
subscribe, a notification is delivered and its events posted. Then everything the process wrote
is searched for every key it was given or made, in every spelling a log line could use.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from pushgate.settings import Settings
from pushgate.store import open_store
from pushgate.store.sealing import generate_key
from pushgate.testing import LocalPushService
from pushgate.webpush.b64 import b64url_decode, b64url_encode
from tests.conftest import (
    ORIGIN,
    Gateway,
    Site,
    free_port,
    pushgate_command,
    subscribe_all,
    wait_until_done,
)

BROWSERS = 3
JSON_FIELDS = {"time", "level", "logger", "message"}


@dataclass
class Output:
    stdout: str
    stderr: str

    @property
    def both(self) -> str:
        return self.stdout + self.stderr


def spellings(secret: bytes | str) -> set[str]:
    """The ways a log line could show a secret: as given, hex, base64 (both alphabets), repr."""
    raw = b64url_decode(secret) if isinstance(secret, str) else secret
    found = {raw.hex(), b64url_encode(raw), base64.b64encode(raw).decode().rstrip("=")}
    found.add(repr(raw)[2:-1])  # how aiosqlite's debug line shows a bytes parameter
    if isinstance(secret, str):
        found.add(secret)
    return found


def start(gateway: Gateway, folder: Path) -> tuple[Path, Path]:
    out, err = folder / "stdout.log", folder / "stderr.log"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        gateway.process = subprocess.Popen(
            pushgate_command("serve"), env=gateway.env, stdout=stdout, stderr=stderr
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert gateway.process.poll() is None, err.read_text()
        try:
            if httpx.get(f"{gateway.base_url}/healthz", timeout=1).status_code == 200:
                return out, err
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("gateway did not answer /healthz within 30 s")


async def run_session(
    push_service: LocalPushService, folder: Path, log_format: str
) -> tuple[Output, set[str]]:
    """A site, browsers, a delivered notification and its events; the output and the secrets."""
    fernet_key = generate_key()
    gateway = Gateway(
        database=f"sqlite:///{folder / 'pushgate.db'}",
        port=free_port(),
        allowed_push_hosts=push_service.host_port,
        extra_env={
            "PUSHGATE_LOG_LEVEL": "debug",
            "PUSHGATE_LOG_FORMAT": log_format,
            "PUSHGATE_SECRET_KEY": fernet_key,
        },
    )
    out, err = start(gateway, folder)
    try:
        created = gateway.create_site()
        site = Site(created["id"], created["api_key"], created["vapid_public_key"], gateway)
        secrets = spellings(fernet_key) | {site.api_key, site.api_key.removeprefix("pgk_")}
        secrets |= await stored_secrets(gateway, site.id)
        browsers = [push_service.new_browser() for _ in range(BROWSERS)]
        for browser in browsers:
            secrets |= spellings(browser.auth) | spellings(browser.p256dh)
        await deliver_and_report(gateway, site, browsers)
    finally:
        gateway.stop()
    return Output(out.read_text(), err.read_text()), secrets


async def stored_secrets(gateway: Gateway, site_id: str) -> set[str]:
    settings = Settings(
        database=gateway.database, secret_key=gateway.extra_env["PUSHGATE_SECRET_KEY"]
    )
    async with open_store(settings) as store:
        site = await store.get_site(site_id)
    assert site is not None
    path = settings.sqlite_path
    with sqlite3.connect(path) as db:
        (event_secret,) = db.execute("SELECT value FROM meta WHERE key = 'event_secret'").fetchone()
    return spellings(site.vapid.private_key) | spellings(bytes(event_secret))


async def deliver_and_report(gateway: Gateway, site: Site, browsers: list[object]) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
        await subscribe_all(client, site, browsers)
        answer = await client.post(
            "/api/v1/notifications", json={"title": "t"}, headers=site.admin_headers
        )
        assert answer.status_code == 202, answer.text
        status = await wait_until_done(client, site, answer.json()["id"])
        assert status["counts"]["accepted"] == BROWSERS
        for browser in browsers:
            token = browser.messages[0].json()["pushgate"]["token"]  # type: ignore[attr-defined]
            for kind in ("delivered", "clicked"):
                event = {"token": token, "type": kind}
                answer = await client.post("/v1/events", json=event, headers={"Origin": ORIGIN})
                assert answer.status_code == 204, answer.text
        wrong = await client.get("/api/v1/subscriptions", headers={"Authorization": "Bearer x"})
        assert wrong.status_code == 401


@pytest.mark.own_database
@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_debug_logs_of_a_whole_session_hold_no_secret(
    push_service: LocalPushService, tmp_path: Path, log_format: str
) -> None:
    output, secrets = await run_session(push_service, tmp_path, log_format)

    assert "pushgate.delivery" in output.stderr  # the log was on, and at debug:
    assert "debug log: aiosqlite, hpack, httpcore, websockets stay at info" in output.stderr
    leaked = sorted(s for s in secrets if s in output.both)
    assert leaked == [], f"secrets in the gateway's output: {leaked}"
    if log_format == "json":
        assert_one_json_object_a_line(output)


def assert_one_json_object_a_line(output: Output) -> None:
    assert output.stdout == ""
    lines = output.stderr.splitlines()
    for line in lines:
        entry = json.loads(line)
        assert JSON_FIELDS <= set(entry) <= JSON_FIELDS | {"exc_info", "stack_info"}, line
        assert entry["time"].endswith("Z"), line
    assert any("pushgate listening on" in json.loads(line)["message"] for line in lines)
