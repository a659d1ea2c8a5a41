"""`pushgate keys` (issue #13) against a running gateway: a key made from a shell works at once,
a revoked one is refused at once while the others keep working (rotation without downtime),
the last key is never revoked, and a listing shows names, ids and times but never a key."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import httpx
import pytest

from tests.conftest import Gateway, Site, pushgate_command, site_of
from tests.test_sites_cli import NUMBERS


@pytest.fixture
def gateway(module_gateway: Gateway) -> Gateway:
    return module_gateway


@pytest.fixture
def site(gateway: Gateway) -> Site:
    return site_of(gateway, name=f"keys-{next(NUMBERS)}")


def keys(gateway: Gateway, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        pushgate_command("keys", *args), env=gateway.env, capture_output=True, text=True, timeout=60
    )


def listed(gateway: Gateway, site: Site) -> list[dict[str, Any]]:
    out = keys(gateway, "list", "--site", site.id, "--json")
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout))


def status_with(site: Site, api_key: str) -> int:
    """What the running gateway answers a request made with `api_key`."""
    answer = httpx.post(
        f"{site.gateway.base_url}/api/v1/notifications",
        json={"title": "Rotated", "audience": {"all": True}},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=10,
    )
    return answer.status_code


def test_a_rotated_key_works_at_once_and_the_revoked_one_is_refused_at_once(
    gateway: Gateway, site: Site
) -> None:
    made = keys(gateway, "create", "--site", site.id, "--name", "cms-2026", "--json")
    assert made.returncode == 0, made.stderr
    new = json.loads(made.stdout)
    assert set(new) == {"id", "name", "api_key"} and new["name"] == "cms-2026"
    assert status_with(site, new["api_key"]) == 202  # no restart, no wait
    assert status_with(site, site.api_key) == 202  # the old one still works meanwhile

    old = next(key for key in listed(gateway, site) if key["name"] == "default")
    out = keys(gateway, "revoke", "--site", site.id, old["id"])
    assert out.returncode == 0, out.stderr
    assert f"revoked {old['id']}" in out.stdout
    assert status_with(site, site.api_key) == 401
    assert status_with(site, new["api_key"]) == 202
    assert [key["id"] for key in listed(gateway, site)] == [new["id"]]


def test_the_listing_has_names_ids_and_times_but_never_a_key(gateway: Gateway, site: Site) -> None:
    made = json.loads(keys(gateway, "create", "--site", site.id, "--json").stdout)
    assert made["name"].startswith("key-20")  # the default name: the day it was made
    assert status_with(site, made["api_key"]) == 202
    entries = listed(gateway, site)
    assert [set(entry) for entry in entries] == [{"id", "name", "created_at", "last_used_at"}] * 2
    by_name = {entry["name"]: entry for entry in entries}
    assert by_name[made["name"]]["last_used_at"] is not None  # it was just used
    assert by_name["default"]["last_used_at"] is None  # not used yet
    text = keys(gateway, "list", "--site", site.id).stdout + json.dumps(entries)
    assert made["api_key"] not in text and site.api_key not in text
    assert made["id"] in text


def test_the_last_key_is_not_revoked(gateway: Gateway, site: Site) -> None:
    [only] = listed(gateway, site)
    out = keys(gateway, "revoke", "--site", site.id, only["id"])
    assert out.returncode == 1, out.stdout
    assert "is the last API key" in out.stderr and "pushgate keys create" in out.stderr
    assert status_with(site, site.api_key) == 202


def test_unknown_key_site_or_name_is_a_usage_error(gateway: Gateway, site: Site) -> None:
    other = site_of(gateway, name=f"keys-other-{next(NUMBERS)}")
    [others] = listed(gateway, other)
    for args, said in (
        (("revoke", "--site", site.id, others["id"]), f"has no key '{others['id']}'"),
        (("revoke", "--site", site.id, "key_nothing"), "has no key 'key_nothing'"),
        (("list", "--site", "no-such-site"), "no site has the id or name 'no-such-site'"),
        (("create", "--site", site.id, "--name", "x" * 65), "--name must be text of 1 to 64"),
    ):
        out = keys(gateway, *args)
        assert out.returncode == 2, out.stdout
        assert said in out.stderr, out.stderr
    assert len(listed(gateway, other)) == 1 and len(listed(gateway, site)) == 1
