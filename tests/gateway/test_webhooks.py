"""Incoming webhooks end to end (issue #11): a WordPress-like "post published" call renders
its templates into a notification that the local push service's browsers decrypt; refused
calls send nothing; a retried call with the same dedupe key sends once."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest

from pushgate.testing import LocalPushService
from tests.conftest import Site, subscribe_all, wait_until_done

SECRET = "s3cret-for-the-cms-0123456789"
WORDPRESS_POST = {
    "post": {
        "id": 4711,
        "title": "Council approves the new tram line",
        "excerpt": "Construction starts in spring.",
        "permalink": "https://news.example/2026/12/tram-line",
        "category": "local",
        "thumbnail": "https://news.example/img/tram.jpg",
    },
    "author": {"name": "Ada"},
    "modified": "2026-12-01T09:00:00Z",
}
HOOK = {
    "name": "wordpress",
    "notification": {
        "title": "{{ payload.post.title }}",
        "body": "{{ payload.post.excerpt }} (by {{ payload.author.name }})",
        "url": "{{ payload.post.permalink }}",
        "image": "{{ payload.post.thumbnail }}",
        "data": {"post_id": "{{ payload.post.id }}"},
        "audience": {
            "filter": {"field": "tags.section", "op": "eq", "value": "{{ payload.post.category }}"}
        },
    },
    "secret": SECRET,
    "dedupe_key": "{{ payload.post.id }}",
}


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Pushgate-Signature": f"sha256={digest}", "Content-Type": "application/json"}


async def create_hook(client: httpx.AsyncClient, site: Site, hook: dict[str, Any]) -> Any:
    answer = await client.post("/api/v1/webhooks", json=hook, headers=site.admin_headers)
    assert answer.status_code == 201, answer.text
    return answer.json()


def hook_path(created: dict[str, Any]) -> str:
    return "/hooks/" + created["url"].rsplit("/hooks/", 1)[1]


async def notifications(client: httpx.AsyncClient, site: Site) -> list[Any]:
    answer = await client.get("/api/v1/notifications", headers=site.admin_headers)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


async def test_a_published_post_reaches_its_section_decrypted_and_a_retry_sends_once(
    push_service: LocalPushService, site: Site, client: httpx.AsyncClient
) -> None:
    local = [push_service.new_browser() for _ in range(3)]
    sports = [push_service.new_browser() for _ in range(2)]
    await subscribe_all(client, site, local, tags={"section": "local"})
    await subscribe_all(client, site, sports, tags={"section": "sports"})
    created = await create_hook(client, site, HOOK)
    assert created["url"].startswith(site.gateway.base_url + "/hooks/")
    assert created["signed"] is True and "secret" not in created

    body = json.dumps(WORDPRESS_POST).encode()
    answer = await client.post(hook_path(created), content=body, headers=signed(body))
    assert answer.status_code == 202, answer.text
    notification_id = answer.json()["notification_id"]
    status = await wait_until_done(client, site, notification_id)
    assert status["counts"]["accepted"] == 3

    for browser in local:
        (message,) = browser.messages
        assert message.decrypt_error is None
        shown = message.json()["notification"]
        assert shown["title"] == "Council approves the new tram line"
        assert shown["body"] == "Construction starts in spring. (by Ada)"
        assert shown["navigate"] == "https://news.example/2026/12/tram-line"
        assert shown["image"] == "https://news.example/img/tram.jpg"
        assert shown["data"] == {"post_id": "4711"}
    assert all(browser.messages == [] for browser in sports)

    # The CMS retries (its own timeout), with a changed timestamp: the same post, sent once.
    retry = json.dumps(WORDPRESS_POST | {"modified": "2026-12-01T09:00:05Z"}).encode()
    again = await client.post(hook_path(created), content=retry, headers=signed(retry))
    assert again.status_code == 200, again.text
    assert again.json() == {"notification_id": notification_id}
    assert len(await notifications(client, site)) == 1
    await asyncio.sleep(0.3)
    assert [len(b.messages) for b in local] == [1, 1, 1]


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (json.dumps(WORDPRESS_POST).encode(), {}, 401, "invalid_signature"),
        (
            json.dumps(WORDPRESS_POST).encode(),
            signed(json.dumps(WORDPRESS_POST).encode(), "wrong-secret-0123456789"),
            401,
            "invalid_signature",
        ),
        (
            json.dumps(WORDPRESS_POST).encode(),
            {"X-Pushgate-Signature": "sha1=00"},
            401,
            "invalid_signature",
        ),
        (b"[1, 2]", None, 400, "invalid_request"),
        (b'"post"', None, 400, "invalid_request"),
        (b"{not json", None, 400, "invalid_json"),
        (json.dumps({"post": {"x": "y" * 70_000}}).encode(), None, 413, "body_too_large"),
        (json.dumps({"post": {"id": 1}}).encode(), None, 422, "template_error"),
    ],
)
async def test_refused_calls_send_nothing(
    push_service: LocalPushService,
    site: Site,
    client: httpx.AsyncClient,
    body: bytes,
    headers: dict[str, str] | None,
    status: int,
    code: str,
) -> None:
    browser = push_service.new_browser()
    await subscribe_all(client, site, [browser], tags={"section": "local"})
    created = await create_hook(client, site, HOOK)
    answer = await client.post(
        hook_path(created), content=body, headers=signed(body) if headers is None else headers
    )
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    assert await notifications(client, site) == []


async def test_a_missing_title_is_422_with_the_reason(
    push_service: LocalPushService, site: Site, client: httpx.AsyncClient
) -> None:
    created = await create_hook(client, site, HOOK | {"secret": None, "name": "unsigned"})
    answer = await client.post(hook_path(created), json={"post": {"category": "local"}})
    assert answer.status_code == 422, answer.text
    assert "title" in answer.json()["error"]["message"]


async def test_sandbox_escapes_in_a_hook_fail_safely_and_the_gateway_keeps_serving(
    push_service: LocalPushService, site: Site, client: httpx.AsyncClient
) -> None:
    hook = {"name": "evil", "notification": {"title": "{{ payload.__class__.__mro__ }}"}}
    created = await create_hook(client, site, hook)
    answer = await client.post(hook_path(created), json={"x": 1})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "template_error"
    fine = await create_hook(client, site, {"name": "ok", "notification": {"title": "t"}})
    assert (await client.post(hook_path(fine), json={})).status_code == 202


async def test_unknown_hook_url_is_404(site: Site, client: httpx.AsyncClient) -> None:
    answer = await client.post("/hooks/not-a-real-token", json={})
    assert answer.status_code == 404


async def test_manage_webhooks_list_get_replace_delete(
    push_service: LocalPushService, site: Site, client: httpx.AsyncClient
) -> None:
    created = await create_hook(client, site, HOOK)
    path = f"/api/v1/webhooks/{created['id']}"
    listed = (await client.get("/api/v1/webhooks", headers=site.admin_headers)).json()
    assert [w["id"] for w in listed["data"]] == [created["id"]]
    assert (await client.get(path, headers=site.admin_headers)).json() == created
    same_name = await client.post("/api/v1/webhooks", json=HOOK, headers=site.admin_headers)
    assert same_name.status_code == 409
    assert same_name.json()["error"]["code"] == "webhook_exists"

    # PUT without a secret keeps it; the URL stays; null makes it unsigned.
    replaced = await client.put(
        path, json={"name": "cms", "notification": {"title": "{{ payload.t }}"}},
        headers=site.admin_headers,
    )  # fmt: skip
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["url"], replaced.json()["signed"]) == (created["url"], True)
    unsigned = await client.put(
        path, json={"name": "cms", "notification": {"title": "{{ payload.t }}"}, "secret": None},
        headers=site.admin_headers,
    )  # fmt: skip
    assert unsigned.json()["signed"] is False
    assert (await client.post(hook_path(created), json={"t": "hi"})).status_code == 202

    assert (await client.delete(path, headers=site.admin_headers)).status_code == 204
    assert (await client.get(path, headers=site.admin_headers)).status_code == 404
    assert (await client.post(hook_path(created), json={"t": "hi"})).status_code == 404


@pytest.mark.parametrize(
    ("hook", "status", "code", "words"),
    [
        ({"name": "x", "notification": {"title": "{{ payload.t"}}, 400, "invalid_template",
         ["notification.title", "line 1"]),
        ({"name": "x", "notification": {"title": "t"}, "dedupe_key": "{% if %}"}, 400,
         "invalid_template", ["dedupe_key"]),
        ({"name": "x", "notification": {"title": "t", "ttl": 0}}, 400, "invalid_request",
         ["ttl"]),
        ({"name": "x", "notification": {"title": "t", "url": "ftp://x"}}, 400,
         "invalid_request", ["url"]),
        ({"name": "x", "notification": {"title": "t"}, "secret": "short"}, 400,
         "invalid_request", ["secret"]),
        ({"name": "x"}, 400, "invalid_request", ["notification"]),
        ({"name": "x", "notification": {"title": "t"}, "extra": 1}, 400, "invalid_request",
         ["extra"]),
    ],
)  # fmt: skip
async def test_bad_definitions_are_refused(
    site: Site,
    client: httpx.AsyncClient,
    hook: dict[str, Any],
    status: int,
    code: str,
    words: list[str],
) -> None:
    answer = await client.post("/api/v1/webhooks", json=hook, headers=site.admin_headers)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    for word in words:
        assert word in answer.json()["error"]["message"]


async def test_webhooks_of_another_site_are_invisible(
    gateway: Any, site: Site, client: httpx.AsyncClient
) -> None:
    from tests.conftest import site_of

    other = site_of(gateway, "other")
    created = await create_hook(client, other, {"name": "x", "notification": {"title": "t"}})
    path = f"/api/v1/webhooks/{created['id']}"
    for method in ("GET", "DELETE"):
        assert (await client.request(method, path, headers=site.admin_headers)).status_code == 404
    listed = (await client.get("/api/v1/webhooks", headers=site.admin_headers)).json()
    assert listed == {"data": []}


async def test_the_dedupe_key_holds_for_7_days_then_sends_again(
    push_service: LocalPushService, gateway_factory: Any, tmp_path: Any
) -> None:
    from pushgate.clock import TEST_CLOCK_ENV, FileClock
    from tests.conftest import site_of

    clock_file = tmp_path / "clock"
    start = 1_800_000_000.0
    FileClock.write(clock_file, start)
    gateway = gateway_factory(push_service.host_port, **{TEST_CLOCK_ENV: str(clock_file)})
    site = site_of(gateway)
    hook = {
        "name": "cms",
        "notification": {"title": "{{ payload.t }}"},
        "dedupe_key": "{{ payload.id }}",
    }
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
        created = await create_hook(client, site, hook)
        first = await client.post(hook_path(created), json={"id": 1, "t": "a"})
        assert first.status_code == 202
        FileClock.write(clock_file, start + 7 * 24 * 3600 - 1)
        within = await client.post(hook_path(created), json={"id": 1, "t": "a"})
        assert (within.status_code, within.json()) == (200, first.json())
        other = await client.post(hook_path(created), json={"id": 2, "t": "b"})
        assert other.status_code == 202
        FileClock.write(clock_file, start + 7 * 24 * 3600 + 1)
        later = await client.post(hook_path(created), json={"id": 1, "t": "a"})
        assert later.status_code == 202
        assert later.json() != first.json()
        no_key = {"name": "plain", "notification": {"title": "t"}}
        plain = await create_hook(client, site, no_key)
        ids = {
            (await client.post(hook_path(plain), json={})).json()["notification_id"]
            for _ in range(2)
        }
        assert len(ids) == 2  # without a dedupe_key every call sends


async def test_a_template_reading_payload_and_subscriber_renders_both_per_message(
    push_service: LocalPushService, site: Site, client: httpx.AsyncClient
) -> None:
    ann = push_service.new_browser()
    await subscribe_all(client, site, [ann], tags={"name": "Ann"})
    title = "{{ payload.item }} is back, {{ subscriber.tags.name }}"
    created = await create_hook(client, site, {"name": "stock", "notification": {"title": title}})
    answer = await client.post(hook_path(created), json={"item": "The red bike"})
    assert answer.status_code == 202, answer.text
    await wait_until_done(client, site, answer.json()["notification_id"])
    assert ann.messages[0].json()["notification"]["title"] == "The red bike is back, Ann"
