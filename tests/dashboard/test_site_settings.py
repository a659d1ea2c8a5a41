"""A site's settings page (/dashboard/sites/{id}/settings) over HTTP against a real gateway:
what it saves is what GET /api/v1/site then answers (the same rules and store as PATCH), bad
input is a 400 with each error beside its field and nothing saved, and the page is guarded
like every other (login, CSRF, an editor's own sites only)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.dashboard.conftest import DashboardGateway, Visitor

FULL_FORM = {
    "prompt_text": "Get the late edition as it happens?",
    "prompt_accept": "Yes please",
    "prompt_dismiss": "Later",
    "prompt_snooze_days": "14",
    "default_timezone": "Europe/Berlin",
    "quiet_start": "22:00",
    "quiet_end": "07:30",
    "quiet_allow_high": "on",
    "cap_max": "3",
    "cap_period": "24h",
}


async def api_site(dashboard: DashboardGateway, site: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=dashboard.url, timeout=10) as client:
        answer = await client.get(
            "/api/v1/site", headers={"Authorization": f"Bearer {site['api_key']}"}
        )
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def error_beside(html: str, name: str) -> str:
    found = re.search(rf'<span class="error" id="{name}-error">([^<]*)</span>', html)
    assert found, f"no error beside {name}"
    return found.group(1)


async def test_saved_settings_are_what_the_api_answers_and_blank_resets(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    site = dashboard.add_site("settings-saved")
    await visitor.logged_in(await dashboard.add_user("editor", site["id"]))
    page = f"/dashboard/sites/{site['id']}/settings"
    token = await visitor.csrf(page)
    answer = await visitor.http.post(page, data={"csrf_token": token, **FULL_FORM})
    assert answer.status_code == 303
    assert answer.headers["location"] == page + "?saved=1"
    shown = await visitor.http.get(answer.headers["location"])
    assert 'id="saved">Saved.</p>' in shown.text
    assert 'value="Get the late edition as it happens?"' in shown.text
    assert 'value="Europe/Berlin"' in shown.text and " checked" in shown.text
    stored = await api_site(dashboard, site)
    assert stored["prompt"] == {
        "text": "Get the late edition as it happens?",
        "accept": "Yes please",
        "dismiss": "Later",
        "snooze_days": 14,
    }
    assert stored["default_timezone"] == "Europe/Berlin"
    assert stored["quiet_hours"] == {"start": "22:00", "end": "07:30", "allow_high_urgency": True}
    assert stored["frequency_cap"] == {"max": 3, "period": "24h"}

    blank = dict.fromkeys(FULL_FORM, "") | {"csrf_token": token}
    del blank["quiet_allow_high"]
    assert (await visitor.http.post(page, data=blank)).status_code == 303
    stored = await api_site(dashboard, site)
    assert stored["prompt"] == dict.fromkeys(("text", "accept", "dismiss", "snooze_days"))
    assert stored["default_timezone"] == "UTC"
    assert stored["quiet_hours"] is None and stored["frequency_cap"] is None
    # Blank reads blank: no grey "22:00" that looks like quiet hours already set.
    assert "placeholder=" not in (await visitor.http.get(page)).text


async def test_bad_input_is_400_with_each_error_beside_its_field_and_nothing_saved(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    site = dashboard.add_site("settings-bad")
    await visitor.logged_in(await dashboard.add_user("admin"))
    page = f"/dashboard/sites/{site['id']}/settings"
    token = await visitor.csrf(page)
    bad = FULL_FORM | {
        "prompt_text": "x" * 201,
        "prompt_snooze_days": "0",
        "default_timezone": "Mars/Olympus",
        "quiet_start": "25:00",
        "cap_max": "many",
    }
    answer = await visitor.http.post(page, data={"csrf_token": token, **bad})
    assert answer.status_code == 400
    assert "Nothing was saved: correct the 5 fields marked below." in answer.text
    assert "at most 200" in error_beside(answer.text, "prompt_text")
    assert "from 1 to 365 days" in error_beside(answer.text, "prompt_snooze_days")
    assert "IANA time zone" in error_beside(answer.text, "default_timezone")
    assert "HH:MM" in error_beside(answer.text, "quiet_start")
    assert "whole number" in error_beside(answer.text, "cap_max")
    assert 'value="Mars/Olympus"' in answer.text  # what was typed stays in the form
    stored = await api_site(dashboard, site)
    assert stored["prompt"]["text"] is None and stored["default_timezone"] == "UTC"
    assert stored["quiet_hours"] is None and stored["frequency_cap"] is None

    one_time = FULL_FORM | {"quiet_end": "", "cap_period": "1w"}
    answer = await visitor.http.post(page, data={"csrf_token": token, **one_time})
    assert answer.status_code == 400
    assert (
        error_beside(answer.text, "quiet_end") == "Give both times, or neither for no quiet hours."
    )
    assert "30d" in error_beside(answer.text, "cap_period")
    assert (await api_site(dashboard, site))["frequency_cap"] is None

    # Half a frequency cap is named as quiet hours are, not as a blank the rule cannot read.
    both = "Give both a number and a period, or neither for no cap."
    for blank in ("cap_max", "cap_period"):
        half = FULL_FORM | {blank: ""}
        answer = await visitor.http.post(page, data={"csrf_token": token, **half})
        assert answer.status_code == 400
        assert error_beside(answer.text, blank) == both
        assert "1 fields" not in answer.text and "correct the 1 field marked" in answer.text
    assert (await api_site(dashboard, site))["frequency_cap"] is None


async def test_prompt_words_say_when_prompt_variants_are_shown_instead(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    site = dashboard.add_site("settings-variants")
    await visitor.logged_in(await dashboard.add_user("admin"))
    page = f"/dashboard/sites/{site['id']}/settings"
    assert 'id="variants-note"' not in (await visitor.http.get(page)).text
    variants = [{"id": "short", "text": "News?"}, {"id": "long", "text": "Breaking news?"}]
    async with httpx.AsyncClient(base_url=dashboard.url, timeout=10) as client:
        answer = await client.patch(
            "/api/v1/site",
            json={"prompt_variants": variants},
            headers={"Authorization": f"Bearer {site['api_key']}"},
        )
    assert answer.status_code == 200, answer.text
    shown = (await visitor.http.get(page)).text
    assert 'id="variants-note"' in shown
    assert f'href="/dashboard/sites/{site["id"]}/prompt">Prompt</a>' in shown


async def test_no_session_is_sent_to_the_login_page(dashboard: DashboardGateway) -> None:
    site = dashboard.add_site("settings-no-session")
    page = f"/dashboard/sites/{site['id']}/settings"
    async with httpx.AsyncClient(base_url=dashboard.url, timeout=10) as client:
        shown = await client.get(page)
        posted = await client.post(page, data=FULL_FORM)
    assert shown.status_code == posted.status_code == 303
    assert shown.headers["location"].startswith("/dashboard/login?next=")
    assert posted.headers["location"] == "/dashboard/login"
    assert (await api_site(dashboard, site))["frequency_cap"] is None


@pytest.mark.parametrize("token", [None, "wrong"])
async def test_csrf_token_missing_or_wrong_is_403_and_nothing_changes(
    dashboard: DashboardGateway, visitor: Visitor, token: str | None
) -> None:
    site = dashboard.add_site(f"settings-csrf-{token}")
    await visitor.logged_in(await dashboard.add_user("admin"))
    data = FULL_FORM | ({} if token is None else {"csrf_token": token})
    answer = await visitor.http.post(f"/dashboard/sites/{site['id']}/settings", data=data)
    assert answer.status_code == 403
    stored = await api_site(dashboard, site)
    assert stored["prompt"]["text"] is None and stored["frequency_cap"] is None


async def test_editor_gets_404_for_another_sites_settings(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    mine = dashboard.add_site("settings-mine")
    theirs = dashboard.add_site("settings-theirs")
    await visitor.logged_in(await dashboard.add_user("editor", mine["id"]))
    page = f"/dashboard/sites/{theirs['id']}/settings"
    token = await visitor.csrf(f"/dashboard/sites/{mine['id']}/settings")
    assert (await visitor.http.get(page)).status_code == 404
    answer = await visitor.http.post(page, data={"csrf_token": token, **FULL_FORM})
    assert answer.status_code == 404
    assert "settings-theirs" not in answer.text
    assert (await api_site(dashboard, theirs))["frequency_cap"] is None
