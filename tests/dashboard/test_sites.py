"""The dashboard's site pages over HTTP against a real gateway: who sees which site, an
admin's "new site" form (the API key shown once, and working), CSRF on every state-changing
request, escaping, and the security headers on every page."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.dashboard.conftest import DashboardGateway, Visitor, visit

SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
}


def _site_names(html: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/dashboard/sites/[0-9a-f]+">([^<]*)</a>', html)


async def test_admin_sees_every_site_with_origins_and_subscriber_counts(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    a = dashboard.add_site("admin-sees-a")
    b = dashboard.add_site("admin-sees-b")
    await visitor.logged_in(await dashboard.add_user("admin"))
    page = await visitor.http.get("/dashboard/")
    assert page.status_code == 200
    names = _site_names(page.text)
    assert {"admin-sees-a", "admin-sees-b"} <= set(names)
    assert f"<td><code>{a['id']}</code></td>" in page.text
    assert "<td>https://news.example</td>" in page.text
    for site in (a, b):
        detail = await visitor.http.get(f"/dashboard/sites/{site['id']}")
        assert detail.status_code == 200
        assert site["vapid_public_key"] in detail.text


async def test_editor_sees_only_their_sites_and_another_sites_page_is_404(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    mine = dashboard.add_site("editor-mine")
    theirs = dashboard.add_site("editor-theirs")
    await visitor.logged_in(await dashboard.add_user("editor", mine["id"]))
    page = await visitor.http.get("/dashboard/")
    assert _site_names(page.text) == ["editor-mine"]
    assert "Create a site" not in page.text
    assert (await visitor.http.get(f"/dashboard/sites/{mine['id']}")).status_code == 200
    other = await visitor.http.get(f"/dashboard/sites/{theirs['id']}")
    missing = await visitor.http.get("/dashboard/sites/0000000000000000")
    assert other.status_code == missing.status_code == 404
    assert theirs["vapid_public_key"] not in other.text
    assert "editor-theirs" not in other.text


async def test_editor_cannot_create_a_site(dashboard: DashboardGateway, visitor: Visitor) -> None:
    mine = dashboard.add_site("editor-cannot-create")
    await visitor.logged_in(await dashboard.add_user("editor", mine["id"]))
    assert (await visitor.http.get("/dashboard/sites/new")).status_code == 403
    token = await visitor.csrf()
    answer = await visitor.http.post(
        "/dashboard/sites/new",
        data={"csrf_token": token, "name": "sneaky", "origins": "https://sneaky.example"},
    )
    assert answer.status_code == 403
    async with visit(dashboard) as admin:
        await admin.logged_in(await dashboard.add_user("admin"))
        assert "sneaky" not in _site_names((await admin.http.get("/dashboard/")).text)


async def test_admin_creates_a_site_and_its_api_key_shown_once_works(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    await visitor.logged_in(await dashboard.add_user("admin"))
    token = await visitor.csrf("/dashboard/sites/new")
    answer = await visitor.http.post(
        "/dashboard/sites/new",
        data={
            "csrf_token": token,
            "name": "Created in the dashboard",
            "origins": "https://Blog.Example:443\nhttps://www.blog.example:8443/\nhttp://blog.example\n",
        },
    )
    assert answer.status_code == 201, answer.text
    api_key = re.search(r'<code id="api-key">(pgk_[^<]+)</code>', answer.text)
    site_id = re.search(r'<code id="site-id">([0-9a-f]+)</code>', answer.text)
    assert api_key and site_id
    async with httpx.AsyncClient(base_url=dashboard.url) as api:
        site = await api.get(
            "/api/v1/site", headers={"Authorization": f"Bearer {api_key.group(1)}"}
        )
    assert site.status_code == 200, site.text
    assert site.json()["id"] == site_id.group(1)
    assert site.json()["origins"] == [
        "https://blog.example",
        "https://www.blog.example:8443",
        "http://blog.example",
    ]
    assert "http://blog.example: browsers only allow push on https pages" in answer.text
    # The site's own page shows the embed code, and never the key again.
    page = await visitor.http.get(f"/dashboard/sites/{site_id.group(1)}")
    assert api_key.group(1) not in page.text
    script = (
        f"&lt;script src=&#34;{dashboard.url}/static/pushgate.js&#34; "
        f"data-site=&#34;{site_id.group(1)}&#34; async&gt;&lt;/script&gt;"
    )
    assert script in page.text
    assert f"importScripts(&#34;{dashboard.url}/sw/pushgate-sw.js&#34;);" in page.text
    assert '<ol id="embed-checks">' in page.text


@pytest.mark.parametrize(
    ("name", "origins", "message"),
    [
        ("", "https://a.example", "Enter a name for the site."),
        ("bad\x7fname", "https://a.example", "Use 1 to 100 printable characters."),
        (
            "bad origin",
            "https://a.example/path",
            "&#39;https://a.example/path&#39; is not an origin",
        ),
        ("no origin", "  \n", "Origins must hold at least one origin"),
        ("ftp origin", "ftp://a.example", "is not http or https"),
    ],
)
async def test_new_site_form_refuses_bad_input_with_400_and_creates_nothing(
    dashboard: DashboardGateway, visitor: Visitor, name: str, origins: str, message: str
) -> None:
    await visitor.logged_in(await dashboard.add_user("admin"))
    token = await visitor.csrf("/dashboard/sites/new")
    answer = await visitor.http.post(
        "/dashboard/sites/new", data={"csrf_token": token, "name": name, "origins": origins}
    )
    assert answer.status_code == 400
    assert message in answer.text
    assert 'aria-invalid="true"' in answer.text
    if name.isprintable():
        assert name not in _site_names((await visitor.http.get("/dashboard/")).text)


async def test_taken_site_name_is_refused(dashboard: DashboardGateway, visitor: Visitor) -> None:
    dashboard.add_site("taken-name")
    await visitor.logged_in(await dashboard.add_user("admin"))
    token = await visitor.csrf("/dashboard/sites/new")
    answer = await visitor.http.post(
        "/dashboard/sites/new",
        data={"csrf_token": token, "name": "taken-name", "origins": "https://t.example"},
    )
    assert answer.status_code == 400
    assert "A site of that name exists already" in answer.text


@pytest.mark.parametrize("token", [None, "", "forged-token", "x" * 43])
async def test_csrf_token_missing_or_wrong_is_403_and_nothing_changes(
    dashboard: DashboardGateway, visitor: Visitor, token: str | None
) -> None:
    await visitor.logged_in(await dashboard.add_user("admin"))
    before = _site_names((await visitor.http.get("/dashboard/")).text)
    name = f"csrf-{token!r}"
    data = {"name": name, "origins": "https://csrf.example"}
    if token is not None:
        data["csrf_token"] = token
    answer = await visitor.http.post("/dashboard/sites/new", data=data)
    assert answer.status_code == 403
    assert "Nothing was changed" in answer.text
    logout = {} if token is None else {"csrf_token": token}
    assert (await visitor.http.post("/dashboard/logout", data=logout)).status_code == 403
    # Still logged in, and no site was made.
    after = await visitor.http.get("/dashboard/")
    assert after.status_code == 200
    assert _site_names(after.text) == before


async def test_another_sessions_csrf_token_is_refused(dashboard: DashboardGateway) -> None:
    email = await dashboard.add_user("admin")
    async with visit(dashboard) as first, visit(dashboard) as second:
        await first.logged_in(email)
        await second.logged_in(email)
        first_token = await first.csrf()
        assert first_token != await second.csrf()
        answer = await second.http.post("/dashboard/logout", data={"csrf_token": first_token})
        assert answer.status_code == 403
        assert (await second.http.get("/dashboard/")).status_code == 200


async def test_site_name_and_origins_are_escaped(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    site = dashboard.add_site('<script>alert("x")</script>')
    await visitor.logged_in(await dashboard.add_user("admin"))
    for path in ("/dashboard/", f"/dashboard/sites/{site['id']}"):
        html = (await visitor.http.get(path)).text
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


async def test_every_dashboard_answer_carries_the_security_headers(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    site = dashboard.add_site("headers-site")
    anonymous = [await visitor.http.get("/dashboard/login"), await visitor.http.get("/dashboard/")]
    await visitor.logged_in(await dashboard.add_user("admin"))
    pages = [
        await visitor.http.get(path)
        for path in (
            "/dashboard/",
            f"/dashboard/sites/{site['id']}",
            "/dashboard/sites/new",
            "/dashboard/sites/0000000000000000",
            "/dashboard/nothing-here",
        )
    ]
    assert [p.status_code for p in pages] == [200, 200, 200, 404, 404]
    forbidden = await visitor.http.post("/dashboard/logout")
    style = await visitor.http.get("/dashboard/static/dashboard.css")
    no_style = await visitor.http.get("/dashboard/static/missing.css")
    wrong_method = await visitor.http.put("/dashboard/")
    assert (no_style.status_code, wrong_method.status_code) == (404, 405)
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    for answer in [*anonymous, *pages, forbidden, style, no_style, wrong_method]:
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers[name] == value, (answer.url, name)
        policy = answer.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        expected_cache = "no-cache" if answer in (style, no_style) else "no-store"
        assert answer.headers["cache-control"] == expected_cache, answer.url
    for page in [*anonymous[:1], *pages]:
        nonce = re.search(
            r"script-src 'self' 'nonce-([\w-]+)'", page.headers["content-security-policy"]
        )
        assert nonce, page.headers["content-security-policy"]
        assert "<script>" not in page.text  # no inline script without the nonce
        assert 'style="' not in page.text  # no inline style attributes


async def _origins(dashboard: DashboardGateway, site: dict[str, str]) -> list[str]:
    async with httpx.AsyncClient(base_url=dashboard.url) as api:
        answer = await api.get(
            "/api/v1/site", headers={"Authorization": f"Bearer {site['api_key']}"}
        )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["origins"])


async def test_editor_changes_their_sites_origins_and_no_one_elses(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    mine = dashboard.add_site("origins-mine")
    theirs = dashboard.add_site("origins-theirs")
    await visitor.logged_in(await dashboard.add_user("editor", mine["id"]))
    page = f"/dashboard/sites/{mine['id']}"
    token = await visitor.csrf(page)
    new = "https://news.example\nHTTPS://WWW.News.Example:443/"
    answer = await visitor.http.post(f"{page}/origins", data={"csrf_token": token, "origins": new})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{page}?saved=origins"
    shown = await visitor.http.get(answer.headers["location"])
    assert '<p class="saved" role="status">Origins saved.</p>' in shown.text
    assert await _origins(dashboard, mine) == ["https://news.example", "https://www.news.example"]

    refused = await visitor.http.post(
        f"/dashboard/sites/{theirs['id']}/origins",
        data={"csrf_token": token, "origins": "https://taken-over.example"},
    )
    assert refused.status_code == 404
    bad = await visitor.http.post(
        f"{page}/origins", data={"csrf_token": token, "origins": "news.example/path"}
    )
    assert bad.status_code == 400
    # The line is named once, as the rule quotes it (not "X is refused: 'X' has no scheme").
    assert "news.example/path is refused" not in bad.text
    assert "&#39;news.example/path&#39; has no scheme: give it as https://news.example" in bad.text
    no_token = await visitor.http.post(f"{page}/origins", data={"origins": "https://x.example"})
    assert no_token.status_code == 403
    assert await _origins(dashboard, theirs) == ["https://news.example"]
    assert await _origins(dashboard, mine) == ["https://news.example", "https://www.news.example"]
