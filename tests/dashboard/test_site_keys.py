"""A site's API keys page (/dashboard/sites/{id}/keys) over HTTP against a real gateway: keys
listed by name and times (never the key), a new key shown once in the answer to its POST and
working against the API, revoked keys refused by the API at once, the last key kept, and the
page guarded (login, CSRF, an editor's own sites only)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.dashboard.conftest import DashboardGateway, Visitor


async def api_status(dashboard: DashboardGateway, api_key: str) -> int:
    async with httpx.AsyncClient(base_url=dashboard.url, timeout=10) as client:
        answer = await client.get("/api/v1/site", headers={"Authorization": f"Bearer {api_key}"})
    return answer.status_code


async def key_names(dashboard: DashboardGateway, site: dict[str, Any]) -> list[str]:
    async with httpx.AsyncClient(base_url=dashboard.url, timeout=10) as client:
        answer = await client.get(
            "/api/v1/keys", headers={"Authorization": f"Bearer {site['api_key']}"}
        )
    assert answer.status_code == 200, answer.text
    return [key["name"] for key in answer.json()["data"]]


def revoke_paths(html: str) -> list[str]:
    return re.findall(r'action="(/dashboard/sites/[0-9a-f]+/keys/[^"/]+/revoke)"', html)


async def test_create_a_named_key_shown_once_then_revoke_it(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    site = dashboard.add_site("keys-create")
    await visitor.logged_in(await dashboard.add_user("editor", site["id"]))
    page = f"/dashboard/sites/{site['id']}/keys"
    listing = await visitor.http.get(page)
    assert listing.status_code == 200
    assert "1 key</caption>" in listing.text and "never</td>" in listing.text
    token = await visitor.csrf(page)

    created = await visitor.http.post(page, data={"csrf_token": token, "name": "CMS production"})
    assert created.status_code == 201
    found = re.search(r'<code id="api-key">(pgk_[\w-]+)</code>', created.text)
    assert found, created.text
    new_key = found.group(1)
    assert "It is shown only this once" in created.text
    assert await api_status(dashboard, new_key) == 200
    assert "CMS production" in await key_names(dashboard, site)

    listing = await visitor.http.get(page)
    assert new_key not in listing.text and site["api_key"] not in listing.text
    assert "2 keys</caption>" in listing.text
    assert re.search(
        r"<th scope=\"row\">CMS production</th>\s*<td>\d{4}-\d\d-\d\d \d\d:\d\d UTC", listing.text
    )
    # The key was used just now (GET /api/v1/site): its last-used time is shown.
    row = listing.text.split("CMS production</th>", 1)[1].split("</tr>", 1)[0]
    assert row.count(" UTC</td>") == 2

    new_revoke = next(p for p in revoke_paths(listing.text) if "Revoke CMS production" in
                      listing.text.split(p, 1)[1][:400])  # fmt: skip
    revoked = await visitor.http.post(new_revoke, data={"csrf_token": token})
    assert revoked.status_code == 303 and revoked.headers["location"] == page + "?revoked=1"
    assert "Key revoked" in (await visitor.http.get(revoked.headers["location"])).text
    assert await api_status(dashboard, new_key) == 401
    assert await api_status(dashboard, site["api_key"]) == 200


async def test_the_last_key_cannot_be_revoked_and_the_page_says_so(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    site = dashboard.add_site("keys-last")
    await visitor.logged_in(await dashboard.add_user("admin"))
    page = f"/dashboard/sites/{site['id']}/keys"
    listing = await visitor.http.get(page)
    (only,) = revoke_paths(listing.text)
    answer = await visitor.http.post(only, data={"csrf_token": await visitor.csrf(page)})
    assert answer.status_code == 409
    assert "This is the site&#39;s last API key, so it was not revoked" in answer.text
    assert await api_status(dashboard, site["api_key"]) == 200


async def test_a_key_needs_a_name(dashboard: DashboardGateway, visitor: Visitor) -> None:
    site = dashboard.add_site("keys-no-name")
    await visitor.logged_in(await dashboard.add_user("admin"))
    page = f"/dashboard/sites/{site['id']}/keys"
    token = await visitor.csrf(page)
    for name in ("", "   ", "x" * 65, "tab\there"):
        answer = await visitor.http.post(page, data={"csrf_token": token, "name": name})
        assert answer.status_code == 400, name
        assert 'id="key-name-error">Give the key a name of 1 to 64' in answer.text
        assert "pgk_" not in answer.text
    assert len(await key_names(dashboard, site)) == 1


async def test_no_session_is_sent_to_the_login_page(dashboard: DashboardGateway) -> None:
    site = dashboard.add_site("keys-no-session")
    page = f"/dashboard/sites/{site['id']}/keys"
    async with httpx.AsyncClient(base_url=dashboard.url, timeout=10) as client:
        shown = await client.get(page)
        posted = await client.post(page, data={"name": "sneaky"})
        revoked = await client.post(f"{page}/whatever/revoke")
    assert shown.status_code == posted.status_code == revoked.status_code == 303
    assert shown.headers["location"].startswith("/dashboard/login?next=")
    assert len(await key_names(dashboard, site)) == 1


@pytest.mark.parametrize("token", [None, "wrong"])
async def test_csrf_token_missing_or_wrong_is_403_and_nothing_changes(
    dashboard: DashboardGateway, visitor: Visitor, token: str | None
) -> None:
    site = dashboard.add_site(f"keys-csrf-{token}")
    await visitor.logged_in(await dashboard.add_user("admin"))
    page = f"/dashboard/sites/{site['id']}/keys"
    good = await visitor.csrf(page)
    second = await visitor.http.post(page, data={"csrf_token": good, "name": "second"})
    assert second.status_code == 201
    data = {} if token is None else {"csrf_token": token}
    created = await visitor.http.post(page, data=data | {"name": "sneaky"})
    assert created.status_code == 403
    for path in revoke_paths((await visitor.http.get(page)).text):
        assert (await visitor.http.post(path, data=data)).status_code == 403
    names = await key_names(dashboard, site)
    assert len(names) == 2 and "second" in names and "sneaky" not in names


async def test_editor_gets_404_for_another_sites_keys(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    mine = dashboard.add_site("keys-mine")
    theirs = dashboard.add_site("keys-theirs")
    await visitor.logged_in(await dashboard.add_user("editor", mine["id"]))
    token = await visitor.csrf(f"/dashboard/sites/{mine['id']}/keys")
    page = f"/dashboard/sites/{theirs['id']}/keys"
    assert (await visitor.http.get(page)).status_code == 404
    created = await visitor.http.post(page, data={"csrf_token": token, "name": "sneaky"})
    assert created.status_code == 404 and "pgk_" not in created.text
    async with httpx.AsyncClient(base_url=dashboard.url, timeout=10) as client:
        listed = await client.get(
            "/api/v1/keys", headers={"Authorization": f"Bearer {theirs['api_key']}"}
        )
    (key,) = listed.json()["data"]
    for _ in range(2):  # another key first, so the refusal is not the last-key rule's
        async with httpx.AsyncClient(base_url=dashboard.url, timeout=10) as client:
            await client.post(
                "/api/v1/keys",
                json={"name": "spare"},
                headers={"Authorization": f"Bearer {theirs['api_key']}"},
            )
    revoked = await visitor.http.post(f"{page}/{key['id']}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 404
    assert await api_status(dashboard, theirs["api_key"]) == 200
