"""The composer over HTTP against a real gateway, the local push service and simulated browsers
that decrypt: its count equals `POST /api/v1/audiences/count`'s, Send now reaches exactly the
audience with the composed content, a send to more than 1,000 asks first, send_at waits for the
test clock, bad input is a 400 beside its field, no CSRF token is a 403 and nothing sent, and
an editor gets 404 for another site's composer."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from pushgate.clock import TEST_CLOCK_ENV, FileClock
from pushgate.store import open_store
from pushgate.store.models import NewSubscription
from pushgate.testing import LocalPushService
from tests.conftest import ORIGIN, Site, _gateway_factory, free_port, subscribe_all
from tests.conftest import wait_until_done as wait_done
from tests.dashboard.conftest import START, DashboardGateway, Visitor, csrf_of, visit

PUSH_PORT = free_port()  # every test's push service listens here: the gateway allows it
BULK = 1001  # one more than a send may reach without a confirmation


@pytest.fixture(scope="module")
def dashboard(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[DashboardGateway]:
    """The dashboard's gateway, allowed to push to this module's push service port."""
    folder = tmp_path_factory.mktemp("compose")
    clock_file = folder / "clock"
    FileClock.write(clock_file, START)
    for make in _gateway_factory(folder, request):
        gateway = make(
            f"127.0.0.1:{PUSH_PORT}",
            **{TEST_CLOCK_ENV: str(clock_file), "PUSHGATE_TRUSTED_PROXIES": "127.0.0.1"},
        )
        yield DashboardGateway(gateway, clock_file)


@pytest.fixture
async def push_service() -> AsyncIterator[LocalPushService]:
    async with LocalPushService(port=PUSH_PORT) as service:
        yield service


@pytest.fixture
async def api(dashboard: DashboardGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=dashboard.url, timeout=30) as client:
        yield client


async def site_of(dashboard: DashboardGateway, name: str) -> Site:
    """A new site, made in-process as `pushgate sites create` makes it (a process a site would
    cost a second or more on a busy machine)."""
    async with open_store(dashboard.gateway.database) as store:
        site, api_key = await store.create_site(name, (ORIGIN,))
    return Site(site.id, api_key, site.vapid.public_key, dashboard.gateway)


async def admin(dashboard: DashboardGateway, visitor: Visitor) -> Visitor:
    return await visitor.logged_in(await dashboard.add_user("admin"))


def composed(token: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": token, "intent": "send", "title": "Hello"} | fields


def local_input(epoch: float) -> str:
    """A datetime-local value (read in UTC by the form's default zone)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M")


def error_at(page: str, field: str) -> str:
    found = re.search(rf'<span class="error" id="{field}-error">([^<]*)</span>', page)
    assert found, f"no error beside {field}"
    return html.unescape(found.group(1))


async def notifications(api: httpx.AsyncClient, site: Site) -> list[dict[str, Any]]:
    answer = await api.get("/api/v1/notifications", headers=site.admin_headers)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


async def api_count(api: httpx.AsyncClient, site: Site, audience: dict[str, Any]) -> int:
    answer = await api.post(
        "/api/v1/audiences/count", json={"audience": audience}, headers=site.admin_headers
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["count"])


async def test_count_route_equals_the_api_count_for_tags_segment_and_filter(
    dashboard: DashboardGateway, visitor: Visitor, api: httpx.AsyncClient, push_service: Any
) -> None:
    site = await site_of(dashboard, "compose-count")
    browsers = [push_service.new_browser() for _ in range(9)]
    await subscribe_all(api, site, browsers[:4], tags={"plan": "pro", "score": 7})
    await subscribe_all(api, site, browsers[4:6], tags={"plan": "free"}, language="de")
    await subscribe_all(api, site, browsers[6:], language="fr")
    segment = {"name": "pro-users", "filter": {"field": "tags.plan", "op": "eq", "value": "pro"}}
    made = await api.post("/api/v1/segments", json=segment, headers=site.admin_headers)
    assert made.status_code == 201, made.text
    await admin(dashboard, visitor)
    token = await visitor.csrf(f"/dashboard/sites/{site.id}/compose")
    url = f"/dashboard/sites/{site.id}/compose/count"
    cases: list[tuple[dict[str, str], dict[str, Any], int]] = [
        ({"audience": "everyone"}, {"all": True}, 9),
        ({"audience": "tags", "tags": "plan=pro"}, {"tags": {"plan": "pro"}}, 4),
        ({"audience": "segment", "segment": "pro-users"}, {"segment": "pro-users"}, 4),
        (
            {"audience": "filter", "filter_match": "any",
             "filter1_field": "tag", "filter1_tag": "score", "filter1_op": "gte",
             "filter1_value": "5", "filter2_field": "language", "filter2_op": "in",
             "filter2_value": "de, fr"},
            {"or": [{"field": "tags.score", "op": "gte", "value": 5},
                    {"field": "language", "op": "in", "value": ["de", "fr"]}]},
            9,
        ),
        (
            {"audience": "filter", "filter1_field": "language", "filter1_op": "eq",
             "filter1_value": "de"},
            {"field": "language", "op": "eq", "value": "de"},
            2,
        ),
    ]  # fmt: skip
    for fields, audience, expected in cases:
        answer = await visitor.http.post(url, data=fields, headers={"X-CSRF-Token": token})
        assert answer.status_code == 200, answer.text
        wanted = audience if "field" in audience or "or" in audience else None
        api_audience = {"filter": wanted} if wanted else audience
        assert answer.json()["audience"] == api_audience
        assert answer.json()["count"] == await api_count(api, site, api_audience) == expected
    # The page itself shows the count without JavaScript.
    page = await visitor.http.get(f"/dashboard/sites/{site.id}/compose")
    assert '<strong id="count-value">9</strong>' in page.text
    refused = await visitor.http.post(
        url, data={"audience": "segment", "segment": "nope"}, headers={"X-CSRF-Token": token}
    )
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "segment"


async def test_send_now_reaches_exactly_the_audience_with_the_composed_content(
    dashboard: DashboardGateway, visitor: Visitor, api: httpx.AsyncClient, push_service: Any
) -> None:
    site = await site_of(dashboard, "compose-send-now")
    pro = [push_service.new_browser() for _ in range(3)]
    free = [push_service.new_browser() for _ in range(2)]
    await subscribe_all(api, site, pro, tags={"plan": "pro"})
    await subscribe_all(api, site, free, tags={"plan": "free"})
    await admin(dashboard, visitor)
    page = await visitor.http.get(f"/dashboard/sites/{site.id}/compose")
    send_key = re.search(r'name="send_key" value="([^"]+)"', page.text)
    assert send_key
    fields = composed(
        csrf_of(page.text),
        send_key=send_key.group(1),
        title="Pro: the watermelon grew up",
        body="Details inside.\nSecond line.",
        url="https://news.example/watermelon",
        icon="https://news.example/icon.png",
        action1_title="Read",
        action1_url="https://news.example/read",
        action2_title="Later",
        tag="melon",
        urgency="high",
        ttl="1h",
        audience="tags",
        tags="plan=pro",
        when="now",
    )
    answer = await visitor.http.post(f"/dashboard/sites/{site.id}/compose", data=fields)
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    found = re.fullmatch(rf"/dashboard/sites/{site.id}/notifications/([0-9a-f]+)", location)
    assert found, location
    status = await wait_done(api, site, found.group(1))
    assert status["counts"]["targeted"] == status["counts"]["accepted"] == 3
    for browser in pro:
        (message,) = await browser.wait_for(1)
        assert message.decrypt_error is None
        assert message.headers["Urgency"] == "high" and message.headers["TTL"] == "3600"
        assert message.json()["notification"] | {"timestamp": 0} == {
            "title": "Pro: the watermelon grew up",
            "body": "Details inside.\nSecond line.",
            "navigate": "https://news.example/watermelon",
            "icon": "https://news.example/icon.png",
            "tag": "melon",
            "actions": [
                {"action": "button-1", "title": "Read", "navigate": "https://news.example/read"},
                {"action": "button-2", "title": "Later"},
            ],
            "timestamp": 0,
        }
    assert [len(b.messages) for b in free] == [0, 0]
    # The same form sent again (a second click) sends nothing more.
    again = await visitor.http.post(f"/dashboard/sites/{site.id}/compose", data=fields)
    assert again.status_code == 303 and again.headers["location"] == location
    assert len(await notifications(api, site)) == 1


async def test_size_route_measures_as_the_api_does(
    dashboard: DashboardGateway, visitor: Visitor, api: httpx.AsyncClient
) -> None:
    """The API warns past 2,900 bytes naming its own measure: the composer's is the same, and
    past 3,993 the send is refused beside the size."""
    site = await site_of(dashboard, "compose-size")
    await admin(dashboard, visitor)
    token = await visitor.csrf(f"/dashboard/sites/{site.id}/compose")
    content = {"title": "Size", "body": "b" * 2000, "url": "https://news.example/" + "u" * 950}
    warned = await api.post("/api/v1/notifications", json=content, headers=site.admin_headers)
    assert warned.status_code == 202, warned.text
    api_bytes = re.search(r"payload is (\d+) bytes", warned.json()["warnings"][0]["message"])
    assert api_bytes
    size_url = f"/dashboard/sites/{site.id}/compose/size"
    answer = await visitor.http.post(size_url, data=content, headers={"X-CSRF-Token": token})
    assert answer.json() == {"payload_bytes": int(api_bytes.group(1)), "limit_bytes": 3993}
    too_big = content | {"image": "https://news.example/" + "i" * 1500}
    answer = await visitor.http.post(size_url, data=too_big, headers={"X-CSRF-Token": token})
    assert answer.json()["payload_bytes"] > 3993
    sent = await visitor.http.post(
        f"/dashboard/sites/{site.id}/compose", data=composed(token, **too_big)
    )
    assert sent.status_code == 400
    assert "at most 3993 fit in one Web Push message" in html.unescape(sent.text)
    assert len(await notifications(api, site)) == 1  # the API's own, none from the form


async def test_more_than_1000_asks_for_confirmation_and_sends_nothing_before(
    dashboard: DashboardGateway, visitor: Visitor, api: httpx.AsyncClient
) -> None:
    site = await site_of(dashboard, "compose-confirm")
    subs = [NewSubscription(f"http://127.0.0.1:{PUSH_PORT}/push/bulk-{i}", "p", "a")
            for i in range(BULK)]  # fmt: skip
    async with open_store(dashboard.gateway.database) as store:
        assert await store.add_subscriptions_bulk(site.id, subs) == BULK
    await admin(dashboard, visitor)
    token = await visitor.csrf(f"/dashboard/sites/{site.id}/compose")
    at = local_input(dashboard.now() + 3600)
    fields = composed(token, title="Big news", when="at", send_at=at, send_at_zone="UTC")
    first = await visitor.http.post(f"/dashboard/sites/{site.id}/compose", data=fields)
    assert first.status_code == 200, first.text
    assert '<span id="confirm-count">1,001</span>' in first.text
    assert '<dd id="confirm-audience">Everyone</dd>' in first.text
    assert f'<dd id="confirm-when">At {at}:00+00:00</dd>' in first.text
    assert await notifications(api, site) == []  # the first POST sends nothing
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', first.text))
    assert hidden["confirmed"] == "yes" and hidden["title"] == "Big news"
    confirmed = await visitor.http.post(
        f"/dashboard/sites/{site.id}/compose",
        data={k: html.unescape(v) for k, v in hidden.items()} | {"intent": "send"},
    )
    assert confirmed.status_code == 303, confirmed.text
    (made,) = await notifications(api, site)
    assert made["status"] == "scheduled" and made["send_at"].startswith(at.replace("T", "T"))
    cancel = await api.post(
        f"/api/v1/notifications/{made['id']}/cancel", headers=site.admin_headers
    )
    assert cancel.status_code == 200, cancel.text  # never to go to the bulk endpoints


async def test_send_at_is_scheduled_and_goes_when_the_test_clock_gets_there(
    dashboard: DashboardGateway, visitor: Visitor, api: httpx.AsyncClient, push_service: Any
) -> None:
    site = await site_of(dashboard, "compose-send-at")
    browsers = [push_service.new_browser() for _ in range(2)]
    await subscribe_all(api, site, browsers)
    await admin(dashboard, visitor)
    token = await visitor.csrf(f"/dashboard/sites/{site.id}/compose")
    due = (dashboard.now() // 60 + 10) * 60  # a whole minute, as datetime-local writes it
    fields = composed(token, title="Later", when="at", send_at=local_input(due))
    answer = await visitor.http.post(f"/dashboard/sites/{site.id}/compose", data=fields)
    assert answer.status_code == 303, answer.text
    notification_id = answer.headers["location"].rsplit("/", 1)[1]
    status = await api.get(f"/api/v1/notifications/{notification_id}", headers=site.admin_headers)
    assert status.json()["status"] == "scheduled"
    assert [len(b.messages) for b in browsers] == [0, 0]
    dashboard.advance(due - dashboard.now())
    done = await wait_done(api, site, notification_id)
    assert done["counts"]["accepted"] == 2
    for browser in browsers:
        (message,) = await browser.wait_for(1)
        assert message.json()["notification"]["title"] == "Later"


async def test_at_a_local_time_sets_deliver_at_local(
    dashboard: DashboardGateway, visitor: Visitor, api: httpx.AsyncClient
) -> None:
    site = await site_of(dashboard, "compose-local")
    waiting = NewSubscription(f"http://127.0.0.1:{PUSH_PORT}/push/local-1", "p", "a")
    async with open_store(dashboard.gateway.database) as store:
        await store.add_subscriptions_bulk(site.id, [waiting])
    await admin(dashboard, visitor)
    token = await visitor.csrf(f"/dashboard/sites/{site.id}/compose")
    fields = composed(token, when="local", local_time="07:30")
    answer = await visitor.http.post(f"/dashboard/sites/{site.id}/compose", data=fields)
    assert answer.status_code == 303, answer.text
    (made,) = await notifications(api, site)
    # The test clock stands at 08:00 UTC: the subscriber's 07:30 is tomorrow's.
    assert made["deliver_at_local"] == "07:30" and made["status"] in ("scheduled", "sending")
    cancel = await api.post(
        f"/api/v1/notifications/{made['id']}/cancel", headers=site.admin_headers
    )
    assert cancel.status_code == 200, cancel.text


@pytest.fixture(scope="module")
def bad_input_site(dashboard: DashboardGateway) -> Site:
    created = dashboard.add_site("compose-bad-input")
    return Site(created["id"], created["api_key"], created["vapid_public_key"], dashboard.gateway)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"title": ""}, "title", "title is required"),
        ({"url": "ftp://x"}, "url", "url must be an absolute http or https URL"),
        ({"action2_title": "Go", "action2_url": "nope"}, "action2_url", "url must be an absolute"),
        ({"action1_url": "https://news.example/x"}, "action1_title", "actions[0] needs action"),
        ({"ttl": "forever"}, "ttl", "Write the TTL in seconds"),
        ({"ttl": "30d"}, "ttl", "ttl must be whole seconds from 1 to 2419200"),
        ({"urgency": "urgent"}, "urgency", "urgency must be one of"),
        ({"when": "at", "send_at": "2020-01-01T00:00"}, "send_at", "send_at: more than a minute"),
        ({"when": "at", "send_at": ""}, "send_at", "Choose the date and time"),
        ({"when": "local", "local_time": "25:00"}, "local_time", "deliver_at_local: must be"),
        ({"audience": "tags", "tags": "plan"}, "tags", "Write each tag as name=value"),
        ({"audience": "segment", "segment": "missing"}, "segment", "missing"),
        ({"audience": "filter", "filter1_field": "browser", "filter1_op": "eq",
          "filter1_value": "netscape"}, "filter1", "is not one of chrome"),
        ({"ab_enabled": "yes"}, "variant_b_title", "Variant B needs its own title or body"),
        ({"ab_enabled": "yes", "variant_b_title": "B", "ab_winner_after": "2s"},
         "ab_winner_after", "ab_test.winner_after must be"),
        ({"ab_enabled": "yes", "variant_b_title": "B", "ab_sample": "100"},
         "ab_sample", "ab_test.sample_percent must be a whole number from 1 to 99"),
        ({"ab_enabled": "yes", "variant_c_body": "x" * 2049, "variant_b_title": "B"},
         "variant_c_body", "variants[2]: body must be"),
    ],
)  # fmt: skip
async def test_bad_input_is_400_with_the_error_beside_its_field(
    dashboard: DashboardGateway,
    bad_input_site: Site,
    visitor: Visitor,
    api: httpx.AsyncClient,
    fields: dict[str, str],
    field: str,
    message: str,
) -> None:
    site = bad_input_site
    await admin(dashboard, visitor)
    token = await visitor.csrf(f"/dashboard/sites/{site.id}/compose")
    answer = await visitor.http.post(
        f"/dashboard/sites/{site.id}/compose", data=composed(token, **fields)
    )
    assert answer.status_code == 400, answer.text
    assert message in error_at(answer.text, field)
    assert 'aria-invalid="true"' in answer.text
    assert await notifications(api, site) == []


async def test_every_wrong_field_is_named_at_once_not_one_per_send(
    dashboard: DashboardGateway, bad_input_site: Site, visitor: Visitor, api: httpx.AsyncClient
) -> None:
    site = bad_input_site
    await admin(dashboard, visitor)
    token = await visitor.csrf(f"/dashboard/sites/{site.id}/compose")
    wrong = {"title": "", "url": "news.example/a", "icon": "nope", "ttl": "forever"}
    answer = await visitor.http.post(
        f"/dashboard/sites/{site.id}/compose", data=composed(token, **wrong)
    )
    assert answer.status_code == 400, answer.text
    assert error_at(answer.text, "title") == "title is required"
    assert error_at(answer.text, "url") == "url must be an absolute http or https URL"
    assert error_at(answer.text, "icon") == "icon must be an absolute http or https URL"
    assert "Write the TTL in seconds" in error_at(answer.text, "ttl")
    assert answer.text.count('aria-invalid="true"') == 4
    assert await notifications(api, site) == []


async def test_missing_csrf_token_is_403_and_nothing_is_sent(
    dashboard: DashboardGateway, visitor: Visitor, api: httpx.AsyncClient
) -> None:
    site = await site_of(dashboard, "compose-csrf")
    await admin(dashboard, visitor)
    base = f"/dashboard/sites/{site.id}/compose"
    for path in (base, base + "/count", base + "/size"):
        answer = await visitor.http.post(path, data={"intent": "send", "title": "Sneaky"})
        assert answer.status_code == 403, path
        wrong = await visitor.http.post(path, data={"title": "x"}, headers={"X-CSRF-Token": "no"})
        assert wrong.status_code == 403, path
    assert await notifications(api, site) == []


async def test_an_editor_gets_404_for_another_sites_composer(
    dashboard: DashboardGateway, visitor: Visitor, api: httpx.AsyncClient
) -> None:
    mine = await site_of(dashboard, "compose-editor-mine")
    theirs = await site_of(dashboard, "compose-editor-theirs")
    await visitor.logged_in(await dashboard.add_user("editor", mine.id))
    page = await visitor.http.get(f"/dashboard/sites/{mine.id}/compose")
    assert page.status_code == 200
    token = csrf_of(page.text)
    base = f"/dashboard/sites/{theirs.id}/compose"
    assert (await visitor.http.get(base)).status_code == 404
    for path in (base, base + "/count", base + "/size"):
        answer = await visitor.http.post(path, data=composed(token))
        assert answer.status_code == 404, path
    assert await notifications(api, theirs) == []


async def test_from_fills_the_form_from_one_of_the_sites_notifications(
    dashboard: DashboardGateway, visitor: Visitor, api: httpx.AsyncClient
) -> None:
    site = await site_of(dashboard, "compose-from")
    other = await site_of(dashboard, "compose-from-other")
    body = {
        "title": "Sale <today>",
        "body": "Half off",
        "url": "https://news.example/sale",
        "actions": [{"action": "shop", "title": "Shop", "url": "https://news.example/shop"}],
        "tag": "sale",
        "ttl": 7200,
        "urgency": "low",
        "audience": {"filter": {"and": [
            {"field": "tags.plan", "op": "eq", "value": "pro"},
            {"field": "language", "op": "in", "value": ["de", "fr"]}]}},
        "send_at": datetime.fromtimestamp(dashboard.now() + 3600, UTC).isoformat(),
    }  # fmt: skip
    made = await api.post("/api/v1/notifications", json=body, headers=site.admin_headers)
    assert made.status_code == 202, made.text
    source = made.json()["id"]
    await admin(dashboard, visitor)
    page = await visitor.http.get(f"/dashboard/sites/{site.id}/compose", params={"from": source})
    assert page.status_code == 200
    for name, value in [("title", "Sale &lt;today&gt;"), ("url", "https://news.example/sale"),
                        ("action1_title", "Shop"), ("action1_url", "https://news.example/shop"),
                        ("tag", "sale"), ("ttl", "2h"), ("filter1_tag", "plan"),
                        ("filter1_value", "pro"), ("filter2_value", "de, fr")]:  # fmt: skip
        assert f'name="{name}" type="text" maxlength' in page.text or f'name="{name}"' in page.text
        assert re.search(rf'name="{name}"[^>]*value="{re.escape(value)}"', page.text), name
    assert 'value="filter" checked' in page.text
    assert '<option value="low" selected>' in page.text
    assert ">Half off</textarea>" in page.text
    await api.post(f"/api/v1/notifications/{source}/cancel", headers=site.admin_headers)
    elsewhere = await visitor.http.get(
        f"/dashboard/sites/{other.id}/compose", params={"from": source}
    )
    assert elsewhere.status_code == 404


async def test_preview_without_javascript_shows_previews_size_and_count(
    dashboard: DashboardGateway, api: httpx.AsyncClient
) -> None:
    site = await site_of(dashboard, "compose-preview")
    async with visit(dashboard) as visitor:
        await admin(dashboard, visitor)
        token = await visitor.csrf(f"/dashboard/sites/{site.id}/compose")
        fields = composed(token, title="Look <here>", body="Body text", intent="preview")
        answer = await visitor.http.post(f"/dashboard/sites/{site.id}/compose", data=fields)
    assert answer.status_code == 200
    assert (
        answer.text.count('<span data-field="title" data-fallback="Title">Look &lt;here&gt;') == 3
    )
    for caption in ("Chrome on Windows (approximation)", "macOS (approximation)",
                    "Chrome on Android (approximation)"):  # fmt: skip
        assert f"<figcaption>{caption}</figcaption>" in answer.text
    assert re.search(r'<strong id="size-value">\d+</strong> of 3,993 bytes', answer.text)
    assert '<strong id="count-value">0</strong>' in answer.text
    assert await notifications(api, site) == []


async def test_ab_test_sends_each_variant_to_its_share_of_the_sample(
    dashboard: DashboardGateway, visitor: Visitor, api: httpx.AsyncClient, push_service: Any
) -> None:
    site = await site_of(dashboard, "compose-ab")
    browsers = [push_service.new_browser() for _ in range(10)]
    await subscribe_all(api, site, browsers)
    await admin(dashboard, visitor)
    token = await visitor.csrf(f"/dashboard/sites/{site.id}/compose")
    fields = composed(
        token,
        title="A title",
        ab_enabled="yes",
        variant_b_title="B title",
        variant_b_body="B body",
        ab_sample="20",
        ab_winner_after="1h",
        ab_metric="clicked",
    )
    answer = await visitor.http.post(f"/dashboard/sites/{site.id}/compose", data=fields)
    assert answer.status_code == 303, answer.text
    notification_id = answer.headers["location"].rsplit("/", 1)[1]
    status = await api.get(f"/api/v1/notifications/{notification_id}", headers=site.admin_headers)
    made = status.json()
    test = made["ab_test"]
    assert (test["sample_percent"], test["winner_after"], test["metric"]) == (20, "1h", "clicked")
    assert [v["notification"]["title"] for v in made["variants"]] == ["A title", "B title"]
    assert made["variants"][1]["notification"]["body"] == "B body"
    await push_service.wait_for_total(2)
    titles = sorted(m.json()["notification"]["title"] for m in push_service.received)
    assert titles == ["A title", "B title"]  # 20 % of 10, split evenly; the rest held
    again = await visitor.http.get(
        f"/dashboard/sites/{site.id}/compose", params={"from": notification_id}
    )
    for name, value in [("title", "A title"), ("variant_b_title", "B title"),
                        ("variant_b_body", "B body"), ("ab_sample", "20"),
                        ("ab_winner_after", "1h")]:  # fmt: skip
        assert re.search(rf'name="{name}"[^>]*value="{value}"', again.text), name
    assert 'name="ab_enabled" value="yes" checked' in again.text
    cancel = await api.post(
        f"/api/v1/notifications/{notification_id}/cancel", headers=site.admin_headers
    )
    assert cancel.status_code == 200, cancel.text
