"""Per-language variants and per-subscriber templates, end to end: a real gateway, the local
push service, simulated browsers that decrypt what they got (issue #11)."""

from __future__ import annotations

from typing import Any

import httpx

from pushgate.testing import LocalPushService
from tests.conftest import Site, subscribe_all, wait_until_done

LANGUAGES = {"de": "de", "de-AT": "de-AT", "fr-CA": "fr-CA", "fr": "fr", "ja": "ja", None: None}


async def _subscribe(
    client: httpx.AsyncClient, site: Site, push_service: LocalPushService, **fields: Any
) -> Any:
    browser = push_service.new_browser()
    await subscribe_all(client, site, [browser], **fields)
    return browser


async def _send(client: httpx.AsyncClient, site: Site, body: dict[str, Any]) -> dict[str, Any]:
    answer = await client.post("/api/v1/notifications", json=body, headers=site.admin_headers)
    assert answer.status_code == 202, answer.text
    return await wait_until_done(client, site, answer.json()["id"])


async def test_each_language_gets_its_variant_exact_tag_then_primary_else_default(
    push_service: LocalPushService, site: Site, client: httpx.AsyncClient
) -> None:
    browsers = {}
    for name, language in LANGUAGES.items():
        fields = {"language": language} if language else {}
        browsers[name] = await _subscribe(client, site, push_service, **fields)
    status = await _send(
        client,
        site,
        {
            "title": "Breaking news",
            "body": "Read it",
            "url": "https://news.example/en",
            "localized": {
                "de": {"title": "Eilmeldung", "url": "https://news.example/de"},
                "fr-CA": {"title": "Dernière heure (Canada)", "body": "Lisez"},
                "FR": {"title": "Dernière heure"},
            },
        },
    )
    assert status["counts"]["accepted"] == len(LANGUAGES)
    assert set(status["localized"]) == {"de", "fr-CA", "FR"}

    def got(name: str | None) -> dict[str, Any]:
        (message,) = browsers[name].messages
        assert message.decrypt_error is None
        return dict(message.json()["notification"])

    assert got("de")["title"] == got("de-AT")["title"] == "Eilmeldung"  # de-AT: primary "de"
    assert got("de")["navigate"] == "https://news.example/de"
    assert got("de")["body"] == "Read it"  # a field the variant leaves out: the default's
    assert got("de")["lang"] == "de"
    assert (got("fr-CA")["title"], got("fr-CA")["body"]) == ("Dernière heure (Canada)", "Lisez")
    assert got("fr")["title"] == "Dernière heure"  # matched without regard to case
    for name in ("ja", None):
        assert got(name)["title"] == "Breaking news"
        assert got(name)["navigate"] == "https://news.example/en"
        assert "lang" not in got(name)


async def test_a_template_over_the_subscriber_renders_per_message(
    push_service: LocalPushService, site: Site, client: httpx.AsyncClient
) -> None:
    anna = await _subscribe(
        client, site, push_service, tags={"name": "Anna", "points": 5}, language="de"
    )
    nobody = await _subscribe(client, site, push_service)
    status = await _send(
        client,
        site,
        {
            "title": "Hi {{ subscriber.tags.name | default('there') }}",
            "body": "{{ subscriber.tags.points or 0 }} points; today is {{ 'mon' | upper }}",
            "url": "https://shop.example/u/{{ subscriber.tags.name | default('guest') | lower }}",
            "data": {"who": "{{ subscriber.tags.name }}"},
            "localized": {"de": {"title": "Hallo {{ subscriber.tags.name }}"}},
        },
    )
    assert status["counts"]["accepted"] == 2, status
    (for_anna,) = anna.messages
    (for_nobody,) = nobody.messages
    assert for_anna.json()["notification"]["title"] == "Hallo Anna"
    assert for_anna.json()["notification"]["navigate"] == "https://shop.example/u/anna"
    assert for_anna.json()["notification"]["data"] == {"who": "Anna"}
    nobody_sees = for_nobody.json()["notification"]
    assert nobody_sees["title"] == "Hi there"
    assert nobody_sees["body"] == "0 points; today is MON"
    assert nobody_sees["navigate"] == "https://shop.example/u/guest"
    assert nobody_sees["data"] == {"who": ""}


async def test_a_message_whose_template_renders_badly_fails_alone_with_its_reason(
    push_service: LocalPushService, site: Site, client: httpx.AsyncClient
) -> None:
    named = await _subscribe(client, site, push_service, tags={"name": "Ben"})
    unnamed = await _subscribe(client, site, push_service)
    status = await _send(client, site, {"title": "{{ subscriber.tags.name }}"})
    assert (status["counts"]["accepted"], status["counts"]["failed"]) == (1, 1), status
    assert named.messages[0].json()["notification"]["title"] == "Ben"
    assert unnamed.messages == []
