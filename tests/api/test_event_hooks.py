"""`/api/v1/event-hooks` (issue #12 part 8) against a real gateway: auth, validation with one
clear message per mistake, the secret never shown, and URLs that would reach the gateway's own
network refused unless PUSHGATE_ALLOWED_HOOK_HOSTS lists their exact host:port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Gateway, Site, _gateway_factory, site_of

ALLOWED = "127.0.0.1:9"  # the discard port: listed, so http and loopback are fine there
SECRET = "s" * 32
EVERY = ["sent", "delivered", "clicked", "dismissed", "subscribed", "unsubscribed", "gone"]
PUBLIC = "https://93.184.215.14/in"  # a public address literal: nothing to resolve


@pytest.fixture(scope="module")
def hooks_gateway(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Gateway]:
    for make in _gateway_factory(tmp_path_factory.mktemp("hooks"), request):
        yield make(PUSHGATE_ALLOWED_HOOK_HOSTS=ALLOWED)


@pytest.fixture(scope="module")
def sites(hooks_gateway: Gateway) -> tuple[Site, Site]:
    return site_of(hooks_gateway, "hooks-a"), site_of(hooks_gateway, "hooks-b")


@pytest.fixture
async def http(hooks_gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hooks_gateway.base_url, timeout=30) as client:
        yield client


async def create(http: httpx.AsyncClient, site: Site, body: Any) -> httpx.Response:
    return await http.post("/api/v1/event-hooks", json=body, headers=site.admin_headers)


def hook_body(**changes: Any) -> dict[str, Any]:
    return {"url": f"http://{ALLOWED}/in", "events": ["clicked"], "secret": SECRET} | changes


async def test_every_route_wants_the_sites_api_key(
    http: httpx.AsyncClient, sites: tuple[Site, Site]
) -> None:
    wrong = {"Authorization": "Bearer pk_wrong"}
    for method, path in (
        ("POST", "/api/v1/event-hooks"),
        ("GET", "/api/v1/event-hooks"),
        ("GET", "/api/v1/event-hooks/eh_x"),
        ("DELETE", "/api/v1/event-hooks/eh_x"),
    ):
        for headers in ({}, wrong):
            answer = await http.request(method, path, json=hook_body(), headers=headers)
            assert answer.status_code == 401, (method, path, answer.text)


async def test_a_hook_is_created_listed_shown_and_deleted_and_its_secret_never_shown(
    http: httpx.AsyncClient, sites: tuple[Site, Site]
) -> None:
    mine, other = sites
    answer = await create(http, mine, hook_body(events=["gone", "sent", "clicked"]))
    assert answer.status_code == 201, answer.text
    hook = answer.json()
    assert hook["events"] == ["sent", "clicked", "gone"]  # in the documented order
    assert hook["url"] == f"http://{ALLOWED}/in" and hook["id"].startswith("eh_")
    assert hook["failing"] is False and hook["dropped_events"] == 0
    public = await create(http, mine, hook_body(url=PUBLIC, events=EVERY))
    assert public.status_code == 201, public.text
    listed = await http.get("/api/v1/event-hooks", headers=mine.admin_headers)
    assert [h["id"] for h in listed.json()["data"]] == [hook["id"], public.json()["id"]]
    shown = await http.get(f"/api/v1/event-hooks/{hook['id']}", headers=mine.admin_headers)
    assert shown.status_code == 200 and shown.json()["attempts"] == []
    for text in (answer.text, listed.text, shown.text):
        assert SECRET not in text and "secret" not in text
    # Another site's key sees none of them.
    theirs = await http.get(f"/api/v1/event-hooks/{hook['id']}", headers=other.admin_headers)
    assert theirs.status_code == 404
    assert (await http.get("/api/v1/event-hooks", headers=other.admin_headers)).json() == {
        "data": []
    }
    gone = await http.delete(f"/api/v1/event-hooks/{hook['id']}", headers=other.admin_headers)
    assert gone.status_code == 404
    for _ in range(2):
        deleted = await http.delete(f"/api/v1/event-hooks/{hook['id']}", headers=mine.admin_headers)
    assert deleted.status_code == 404
    after = await http.get(f"/api/v1/event-hooks/{hook['id']}", headers=mine.admin_headers)
    assert after.status_code == 404
    await http.delete(f"/api/v1/event-hooks/{public.json()['id']}", headers=mine.admin_headers)


NON_PUBLIC = "non-public address"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"events": ["clicked"], "secret": SECRET}, "url is required"),
        (hook_body(url="crm.example/in"), "absolute URL"),
        (hook_body(url="ftp://93.184.215.14/in"), "must be https"),
        (hook_body(url="http://93.184.215.14/in"), "must be https"),
        (hook_body(url="https://user:pw@93.184.215.14/in"), "user information"),
        (hook_body(url="https://127.0.0.1:8443/in"), NON_PUBLIC),
        (hook_body(url="http://127.0.0.1:8443/in"), "must be https"),
        (hook_body(url="https://10.1.2.3/in"), NON_PUBLIC),
        (hook_body(url="https://169.254.169.254/latest"), NON_PUBLIC),
        (hook_body(url="https://[::1]/in"), NON_PUBLIC),
        (hook_body(url="https://[::ffff:192.168.0.1]/in"), NON_PUBLIC),
        (hook_body(url="https://localhost:8443/in"), NON_PUBLIC),  # by name: resolved
        (hook_body(url="https://no-such-host.invalid/in"), "does not resolve"),
        (hook_body(url="https://" + "a" * 2100 + ".example/"), "at most 2048"),
        (hook_body(events=[]), "non-empty list"),
        (hook_body(events="clicked"), "non-empty list"),
        (hook_body(events=["clicked", "opened"]), "'opened' is not one of"),
        (hook_body(secret="short"), "16 to 256 characters"),
        (hook_body(secret="x" * 257), "16 to 256 characters"),
        (hook_body(secret="é" * 20), "printable ASCII"),
        (hook_body(secret=None), "16 to 256 characters"),
        (hook_body(extra=1), "unknown member 'extra'"),
        (["not", "an", "object"], "body"),
    ],
)
async def test_a_bad_hook_is_refused_with_a_clear_message_and_nothing_stored(
    http: httpx.AsyncClient, sites: tuple[Site, Site], body: Any, says: str
) -> None:
    mine = sites[1]
    answer = await create(http, mine, body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_request" and says in error["message"], error
    if says == NON_PUBLIC:
        assert "PUSHGATE_ALLOWED_HOOK_HOSTS" in error["message"]
    listed = await http.get("/api/v1/event-hooks", headers=mine.admin_headers)
    assert listed.json()["data"] == []
