"""`pushgate sites` (issue #13) against a running gateway's database: origins normalised as they
are given, http warned about, what is no origin refused; sites listed and shown; a mistyped
origin fixed without touching the database; prompt words set from a shell and served in the
public config; a site deleted only with --yes, and then gone for its browsers and its key.

The running gateway keeps each site its browser-facing routes read for CACHE_SECONDS
(api/site_cache.py), so a change made from the shell must reach browsers within that time:
`answered_within_cache_period` allows exactly that much (plus a request's worth), no more."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from pushgate.api.site_cache import CACHE_SECONDS
from pushgate.store import open_store
from pushgate.store.models import SiteChange
from tests.api.test_subscriptions import VALID_AUTH, VALID_P256DH
from tests.conftest import ORIGIN, Gateway, pushgate_command

NUMBERS = itertools.count()


@pytest.fixture
def gateway(module_gateway: Gateway) -> Gateway:
    return module_gateway


def pushgate(gateway: Gateway, *args: str) -> subprocess.CompletedProcess[str]:
    """A `pushgate` command on the gateway's database (PUSHGATE_DATABASE)."""
    return subprocess.run(
        pushgate_command(*args), env=gateway.env, capture_output=True, text=True, timeout=60
    )


def create(gateway: Gateway, *origins: str, name: str = "") -> dict[str, Any]:
    name = name or f"site-{next(NUMBERS)}"
    args = ["sites", "create", "--name", name, "--json"]
    for origin in origins or (ORIGIN,):
        args += ["--origin", origin]
    out = pushgate(gateway, *args)
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout)) | {"stderr": out.stderr}


def show(gateway: Gateway, site: str) -> dict[str, Any]:
    out = pushgate(gateway, "sites", "show", site, "--json")
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


def answered_within_cache_period(ask: Callable[[], httpx.Response], status: int) -> None:
    """`ask` answers `status` once the gateway's kept copy of the site has expired."""
    deadline = time.monotonic() + CACHE_SECONDS + 0.5
    answer = ask()
    while answer.status_code != status and time.monotonic() < deadline:
        time.sleep(0.05)
        answer = ask()
    assert answer.status_code == status, answer.text


def subscribe(gateway: Gateway, site_id: str, origin: str) -> httpx.Response:
    endpoint = f"https://fcm.googleapis.com/fcm/send/cli-{next(NUMBERS)}"
    body = {
        "subscription": {"endpoint": endpoint, "keys": {"p256dh": VALID_P256DH, "auth": VALID_AUTH}}
    }
    return httpx.post(
        f"{gateway.base_url}/v1/sites/{site_id}/subscriptions",
        json=body,
        headers={"Origin": origin},
        timeout=10,
    )


def test_create_stores_origins_as_browsers_send_them(gateway: Gateway) -> None:
    created = create(gateway, "https://News.Example:443/ ", " https://www.news.example", ORIGIN)
    assert created["origins"] == [ORIGIN, "https://www.news.example"]
    assert created["stderr"] == ""
    assert subscribe(gateway, created["id"], ORIGIN).status_code == 201


def test_create_warns_about_http_but_not_on_localhost(gateway: Gateway) -> None:
    created = create(gateway, "http://blog.example", "http://localhost:8081")
    assert created["origins"] == ["http://blog.example", "http://localhost:8081"]
    assert created["stderr"].startswith("warning: http://blog.example: browsers only allow push")
    assert created["stderr"].count("warning:") == 1, created["stderr"]


@pytest.mark.parametrize(
    ("origin", "said"),
    [
        ("news.example", "has no scheme: give it as https://news.example"),
        ("https://news.example/blog", "drop '/blog'"),
        ("https://news.example?x=1", "drop '?x=1'"),
        ("https://me@news.example", "user name"),
        ("ftp://news.example", "not http or https"),
    ],
)
def test_create_refuses_what_is_no_origin_and_stores_nothing(
    gateway: Gateway, origin: str, said: str
) -> None:
    name = f"refused-{next(NUMBERS)}"
    out = pushgate(gateway, "sites", "create", "--name", name, "--origin", origin)
    assert out.returncode == 2, out.stdout
    assert "Error: --origin[0] is refused: " in out.stderr and said in out.stderr, out.stderr
    listed = json.loads(pushgate(gateway, "sites", "list", "--json").stdout)
    assert name not in [site["name"] for site in listed]


def test_create_offers_public_url_not_host_or_port(gateway: Gateway) -> None:
    help_text = pushgate(gateway, "sites", "create", "--help").stdout
    assert "--public-url" in help_text
    assert "--host" not in help_text and "--port" not in help_text
    out = pushgate(
        gateway,
        *("sites", "create", "--name", f"tagged-{next(NUMBERS)}", "--origin", ORIGIN),
        *("--public-url", "https://push.news.example/"),
    )
    assert out.returncode == 0, out.stderr
    assert '<script src="https://push.news.example/static/pushgate.js" data-site=' in out.stdout


def test_list_and_show_by_id_or_name(gateway: Gateway) -> None:
    created = create(gateway, name="listed-site")
    listed = json.loads(pushgate(gateway, "sites", "list", "--json").stdout)
    assert isinstance(listed, list)
    [entry] = [site for site in listed if site["id"] == created["id"]]
    assert entry == show(gateway, created["id"]) == show(gateway, "listed-site")
    served = httpx.get(
        f"{gateway.base_url}/api/v1/site",
        headers={"Authorization": f"Bearer {created['api_key']}"},
        timeout=10,
    ).json()
    assert entry == served
    human = pushgate(gateway, "sites", "list").stdout
    assert f"{created['id']}  listed-site  {ORIGIN}" in human
    shown = pushgate(gateway, "sites", "show", "listed-site").stdout
    assert f"site {created['id']} (listed-site)" in shown and "api keys:         1" in shown


def test_show_of_an_unknown_site_is_a_usage_error(gateway: Gateway) -> None:
    out = pushgate(gateway, "sites", "show", "no-such-site")
    assert out.returncode == 2 and "no site has the id or name 'no-such-site'" in out.stderr


def test_prompt_words_set_by_update_reach_the_public_config(gateway: Gateway) -> None:
    created = create(gateway)
    out = pushgate(
        gateway,
        *("sites", "update", created["id"], "--prompt-text", "Goals as they happen?"),
        *("--prompt-accept", "Yes", "--prompt-dismiss", "Maybe later", "--snooze-days", "3"),
    )
    assert out.returncode == 0, out.stderr
    config = httpx.get(
        f"{gateway.base_url}/v1/sites/{created['id']}/config", headers={"Origin": ORIGIN}
    ).json()
    assert config["prompt"] == {
        "text": "Goals as they happen?",
        "accept": "Yes",
        "dismiss": "Maybe later",
        "snooze_days": 3,
    }
    assert pushgate(gateway, "sites", "update", created["id"], "--prompt-text", "").returncode == 0
    reset = pushgate(gateway, "sites", "update", created["id"], "--reset-prompt", "--json")
    assert json.loads(reset.stdout)["prompt"] == {
        "text": None,
        "accept": None,
        "dismiss": None,
        "snooze_days": None,
    }


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--prompt-text", "x" * 201), "--prompt-text must be at most 200"),
        (("--prompt-accept", "a\tb"), "--prompt-accept must be at most"),
        (("--snooze-days", "0"), "--snooze-days must be from 1 to 365"),
        (("--name", "  "), "--name must be text"),
        (("--add-origin", "news.example"), "--add-origin[0] is refused"),
        (("--remove-origin", "https://nowhere.example"), "--remove-origin 'https://nowhere"),
        (("--remove-origin", ORIGIN), "--remove-origin would leave no origin"),
    ],
)
def test_bad_update_is_a_usage_error_and_changes_nothing(
    gateway: Gateway, args: tuple[str, ...], said: str
) -> None:
    created = create(gateway)
    before = show(gateway, created["id"])
    out = pushgate(gateway, "sites", "update", created["id"], *args)
    assert out.returncode == 2, out.stdout
    assert f"Error: {said}" in out.stderr, out.stderr
    assert show(gateway, created["id"]) == before


def test_rename_to_a_taken_name_is_refused(gateway: Gateway) -> None:
    taken = create(gateway, name="taken-name")
    created = create(gateway)
    out = pushgate(gateway, "sites", "update", created["id"], "--name", "taken-name")
    assert out.returncode == 2 and "another site is named 'taken-name'" in out.stderr
    renamed = pushgate(gateway, "sites", "update", created["id"], "--name", "fresh-name", "--json")
    assert json.loads(renamed.stdout)["name"] == "fresh-name"
    assert show(gateway, "taken-name")["id"] == taken["id"]


async def store_raw_origins(gateway: Gateway, site_id: str, *origins: str) -> None:
    """As a pushgate before origins were normalised stored them (the database, not the CLI)."""
    async with open_store(gateway.database) as store:
        await store.update_site(site_id, SiteChange(origins=origins, given=frozenset({"origins"})))


def test_a_mistyped_origin_is_fixed_from_the_cli_and_browsers_get_in(gateway: Gateway) -> None:
    created = create(gateway)
    asyncio.run(
        store_raw_origins(gateway, created["id"], "https://news.example ", "https://a.example:443")
    )
    assert subscribe(gateway, created["id"], ORIGIN).status_code == 403
    flagged = pushgate(gateway, "sites", "show", created["id"])
    assert "'https://news.example ' is not what browsers send" in flagged.stderr
    assert "--add-origin https://news.example" in flagged.stderr

    fixed = pushgate(
        gateway,
        *("sites", "update", created["id"], "--remove-origin", "https://news.example"),
        *("--add-origin", "https://news.example", "--json"),
    )
    assert fixed.returncode == 0, fixed.stderr
    # The origin typed with :443 matched no browser either: it is kept in the form they send.
    assert json.loads(fixed.stdout)["origins"] == ["https://a.example", ORIGIN]
    answered_within_cache_period(lambda: subscribe(gateway, created["id"], ORIGIN), 201)
    assert subscribe(gateway, created["id"], "https://a.example").status_code == 201


def test_delete_needs_yes_and_then_the_site_is_gone_for_browsers_and_its_key(
    gateway: Gateway,
) -> None:
    created = create(gateway)
    assert subscribe(gateway, created["id"], ORIGIN).status_code == 201
    refused = pushgate(gateway, "sites", "delete", created["id"])
    assert refused.returncode == 2 and "run again with --yes" in refused.stderr
    assert show(gateway, created["id"])["id"] == created["id"]

    out = pushgate(gateway, "sites", "delete", created["id"], "--yes")
    assert out.returncode == 0, out.stderr
    assert f"deleted site {created['id']}" in out.stdout
    config_url = f"{gateway.base_url}/v1/sites/{created['id']}/config"
    answered_within_cache_period(lambda: httpx.get(config_url, timeout=10), 404)
    assert subscribe(gateway, created["id"], ORIGIN).status_code == 404
    admin = httpx.get(
        f"{gateway.base_url}/api/v1/site",
        headers={"Authorization": f"Bearer {created['api_key']}"},
        timeout=10,
    )
    assert admin.status_code == 401
    again = pushgate(gateway, "sites", "delete", created["id"], "--yes")
    assert again.returncode == 2 and "no site has the id or name" in again.stderr
