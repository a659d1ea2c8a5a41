"""The prompt page over HTTP against a real gateway: simulated prompt events (posted as the
snippet posts them) give the expected opt-in rates, Wilson intervals (checked against the
formula worked by hand) and the sentence on which variant is better; the variants form sets
what the site config serves, refuses bad fields next to them, needs the CSRF token, and is
another site's 404 for an editor."""

from __future__ import annotations

import asyncio
import html
import math
import re

import httpx

from tests.conftest import ORIGIN
from tests.dashboard.conftest import DashboardGateway, Visitor, csrf_of


def form_of(*variants: dict[str, str]) -> dict[str, str]:
    data = {}
    for number, variant in enumerate(variants, start=1):
        data |= {f"variant-{number}-{part}": value for part, value in variant.items()}
    return data


async def save(visitor: Visitor, site_id: str, data: dict[str, str]) -> httpx.Response:
    url = f"/dashboard/sites/{site_id}/prompt"
    return await visitor.http.post(url, data={"csrf_token": await visitor.csrf(url)} | data)


async def simulate(dashboard: DashboardGateway, site_id: str, variant: str, **events: int) -> None:
    """`events` prompt events of the variant, posted as the snippet posts them."""
    url = f"{dashboard.url}/v1/sites/{site_id}/prompt-events"
    gate = asyncio.Semaphore(20)
    async with httpx.AsyncClient(timeout=30, headers={"Origin": ORIGIN}) as client:

        async def one(event: str) -> None:
            async with gate:
                answer = await client.post(url, json={"event": event, "variant": variant})
                assert answer.status_code == 204, answer.text

        await asyncio.gather(*(one(e) for e, n in events.items() for _ in range(n)))


def wilson_by_hand(granted: int, shown: int) -> tuple[float, float]:
    """Wilson's score interval, z = 1.96: (p + z²/2n ± z·√(p(1-p)/n + z²/4n²)) / (1 + z²/n)."""
    z, n, p = 1.96, shown, granted / shown
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - spread) / (1 + z * z / n), (centre + spread) / (1 + z * z / n)


def row_of(page: str, variant: str) -> list[str]:
    found = re.search(rf'<tr id="variant-{variant}">(.*?)</tr>', page, re.S)
    assert found, f"no row for variant {variant}"
    return [
        html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
        for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", found.group(1), re.S)
    ]


def verdict_of(html: str) -> str:
    found = re.search(r'<p id="prompt-verdict"[^>]*>(.*?)</p>', html, re.S)
    assert found
    return re.sub(r"\s+", " ", found.group(1))


async def test_simulated_events_give_the_rates_intervals_and_the_better_variant(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    site = dashboard.add_site("prompt-better")
    await visitor.logged_in(await dashboard.add_user("editor", site["id"]))
    variants = (
        {"id": "a", "text": "Get the morning brief?", "weight": "50"},
        {"id": "b", "text": "Breaking news as it happens?", "accept": "Yes!", "weight": "50"},
    )
    answer = await save(visitor, site["id"], form_of(*variants))
    assert answer.status_code == 303 and answer.headers["location"].endswith("prompt?saved=1")
    # Few dismissals: they do not enter the rates, and each event is one request.
    await simulate(
        dashboard, site["id"], "a", shown=200, accepted=40, dismissed=9, granted=30, denied=7
    )
    await simulate(
        dashboard, site["id"], "b", shown=200, accepted=70, dismissed=8, granted=60, denied=6
    )
    page = await visitor.http.get(f"/dashboard/sites/{site['id']}/prompt")
    assert page.status_code == 200
    # Wilson by hand: a 30/200 -> 0.15, (0.1071, 0.2061); b 60/200 -> 0.30, (0.2407, 0.3668).
    low_a, high_a = wilson_by_hand(30, 200)
    low_b, high_b = wilson_by_hand(60, 200)
    assert (round(low_a, 4), round(high_a, 4)) == (0.1071, 0.2061)
    assert (round(low_b, 4), round(high_b, 4)) == (0.2407, 0.3668)
    assert row_of(page.text, "a") == [
        "a", "Get the morning brief?", "200", "40", "9", "30", "7", "15.0 %",
        f"{low_a * 100:.1f} % – {high_a * 100:.1f} %",
    ]  # fmt: skip
    assert row_of(page.text, "b")[2:] == [
        "200",
        "70",
        "8",
        "60",
        "6",
        "30.0 %",
        f"{low_b * 100:.1f} % – {high_b * 100:.1f} %",
    ]
    # z = (0.30 - 0.15) / √(0.225 · 0.775 · (1/200 + 1/200)) = 3.59 > 1.96
    assert verdict_of(page.text) == (
        "Variant b is better than variant a with 95 % confidence "
        "(30.0 % against 15.0 % opt-in, z = 3.59)."
    )
    assert "two-proportion z-test" in page.text
    assert 'id="prompt-opt-in"' in page.text  # the chart, with its table of numbers
    config = httpx.get(f"{dashboard.url}/v1/sites/{site['id']}/config").json()
    assert [v["id"] for v in config["prompt_variants"]] == ["a", "b"]
    assert config["prompt_variants"][1]["accept"] == "Yes!"


async def test_a_close_pair_has_no_clear_winner_yet(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    site = dashboard.add_site("prompt-close")
    await visitor.logged_in(await dashboard.add_user("admin"))
    await save(visitor, site["id"], form_of({"text": "One?"}, {"text": "Two?"}))
    await simulate(dashboard, site["id"], "a", shown=50, granted=10)
    await simulate(dashboard, site["id"], "b", shown=50, granted=13)
    page = await visitor.http.get(f"/dashboard/sites/{site['id']}/prompt")
    assert verdict_of(page.text).startswith("No clear winner yet")
    assert row_of(page.text, "b")[7] == "26.0 %"  # against 20.0 %: z = 0.71


async def test_a_site_without_variants_shows_its_single_prompt_as_default(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    site = dashboard.add_site("prompt-default")
    await visitor.logged_in(await dashboard.add_user("admin"))
    page = await visitor.http.get(f"/dashboard/sites/{site['id']}/prompt")
    assert row_of(page.text, "default")[:3] == ["default", "(the snippet's default)", "0"]
    assert "No prompt events yet" in verdict_of(page.text)
    await simulate(dashboard, site["id"], "default", shown=3, granted=1)
    page = await visitor.http.get(f"/dashboard/sites/{site['id']}/prompt")
    assert row_of(page.text, "default")[7] == "33.3 %"
    assert verdict_of(page.text) == "Add a second variant to compare opt-in rates."


async def test_invalid_fields_are_named_next_to_them_and_nothing_is_saved(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    site = dashboard.add_site("prompt-invalid")
    await visitor.logged_in(await dashboard.add_user("admin"))
    answer = await save(
        visitor,
        site["id"],
        form_of(
            {"text": "Fine?", "weight": "0"},
            {"text": "", "accept": "Yes"},
            {"id": "Bad id", "text": "x"},
        ),
    )
    assert answer.status_code == 400
    assert 'id="variants-errors"' in answer.text and "3 fields" in answer.text
    for name in ("variant-1-weight", "variant-2-text", "variant-3-id"):
        assert f'<span class="error" id="{name}-error">' in answer.text, name
        assert re.search(rf'id="{name}"[^>]*aria-invalid="true"', answer.text, re.S), name
    assert 'value="Fine?"' in answer.text  # what was typed stays
    repeated = await save(
        visitor, site["id"], form_of({"id": "x", "text": "1"}, {"id": "x", "text": "2"})
    )
    assert repeated.status_code == 400 and 'id="variant-2-id-error"' in repeated.text
    config = httpx.get(f"{dashboard.url}/v1/sites/{site['id']}/config").json()
    assert [v["id"] for v in config["prompt_variants"]] == ["default"]


async def test_saving_needs_the_csrf_token_and_an_editor_gets_404_for_another_site(
    dashboard: DashboardGateway, visitor: Visitor
) -> None:
    mine = dashboard.add_site("prompt-mine")
    theirs = dashboard.add_site("prompt-theirs")
    await visitor.logged_in(await dashboard.add_user("editor", mine["id"]))
    url = f"/dashboard/sites/{mine['id']}/prompt"
    data = form_of({"id": "a", "text": "Hi?"})
    assert (await visitor.http.post(url, data=data)).status_code == 403
    wrong = await visitor.http.post(url, data=data | {"csrf_token": "wrong"})
    assert wrong.status_code == 403
    config = httpx.get(f"{dashboard.url}/v1/sites/{mine['id']}/config").json()
    assert [v["id"] for v in config["prompt_variants"]] == ["default"]
    other = f"/dashboard/sites/{theirs['id']}/prompt"
    assert (await visitor.http.get(other)).status_code == 404
    token = csrf_of((await visitor.http.get(url)).text)
    assert (await visitor.http.post(other, data=data | {"csrf_token": token})).status_code == 404
    config = httpx.get(f"{dashboard.url}/v1/sites/{theirs['id']}/config").json()
    assert [v["id"] for v in config["prompt_variants"]] == ["default"]


async def test_the_page_needs_a_login(dashboard: DashboardGateway, visitor: Visitor) -> None:
    site = dashboard.add_site("prompt-login")
    answer = await visitor.http.get(f"/dashboard/sites/{site['id']}/prompt")
    assert answer.status_code == 303 and "/dashboard/login" in answer.headers["location"]
