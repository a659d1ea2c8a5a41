"""Templates and language variants at the edge: refused at creation with the field and line,
rendered once when they do not read `subscriber`, and sandbox escapes answered safely."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Site


async def post(client: httpx.AsyncClient, site: Site, payload: Any) -> httpx.Response:
    return await client.post("/api/v1/notifications", json=payload, headers=site.admin_headers)


async def created(client: httpx.AsyncClient, site: Site, answer: httpx.Response) -> Any:
    """The notification as stored (GET), after a 202."""
    assert answer.status_code == 202, answer.text
    url = f"/api/v1/notifications/{answer.json()['id']}"
    return (await client.get(url, headers=site.admin_headers)).json()


def error(answer: httpx.Response, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    return str(answer.json()["error"]["message"])


@pytest.mark.parametrize(
    ("payload", "names"),
    [
        ({"title": "ok", "body": "line one\n{{ oops"}, ["body line 2"]),
        ({"title": "{% macro x() %}{% endmacro %}"}, ["title line 1", "macro"]),
        ({"title": "t", "url": "https://x.example/{{ a b }}"}, ["url line 1"]),
        (
            {"title": "t", "actions": [{"action": "a", "title": "{{", "url": None}]},
            ["actions[0].title"],
        ),
        ({"title": "t", "data": {"x": {"y": "{% for %}"}}}, ["data.x.y"]),
        ({"title": "t", "localized": {"de": {"title": "{{ }"}}}, ["localized.de.title"]),
        ({"title": "{{ subscriber.tags.x | nope }}"}, ["title", "nope"]),
    ],
)
async def test_a_template_that_does_not_parse_is_400_invalid_template_naming_the_field(
    site: Site, client: httpx.AsyncClient, payload: dict[str, Any], names: list[str]
) -> None:
    message = error(await post(client, site, payload), 400, "invalid_template")
    for name in names:
        assert name in message


async def test_templates_without_subscriber_render_once_at_creation(
    site: Site, client: httpx.AsyncClient
) -> None:
    answer = await post(
        client, site, {"title": "{{ 'big' | upper }} news", "topic": "{{ 'abcd' }}"}
    )
    shown = await created(client, site, answer)
    assert shown["notification"]["title"] == "BIG news"
    assert shown["topic"] == "abcd"


async def test_subscriber_templates_are_stored_as_written(
    site: Site, client: httpx.AsyncClient
) -> None:
    title = "Hi {{ subscriber.tags.name }}"
    answer = await post(
        client, site, {"title": title, "url": "https://x.example/{{ subscriber.external_id }}"}
    )
    shown = await created(client, site, answer)
    assert shown["notification"]["title"] == title
    assert shown["notification"]["navigate"] == "https://x.example/{{ subscriber.external_id }}"


@pytest.mark.parametrize(
    "title",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ 'a' * 999999999 }}",
    ],
)
async def test_sandbox_escapes_are_422_template_error_and_the_gateway_keeps_serving(
    site: Site, client: httpx.AsyncClient, title: str
) -> None:
    error(await post(client, site, {"title": title}), 422, "template_error")
    assert (await post(client, site, {"title": "still here"})).status_code == 202


async def test_a_title_that_renders_empty_or_too_long_is_refused(
    site: Site, client: httpx.AsyncClient
) -> None:
    error(await post(client, site, {"title": "{{ nothing }}"}), 400, "invalid_request")
    message = error(await post(client, site, {"title": "{{ 'x' * 300 }}"}), 422, "template_error")
    assert message == "title: renders to more than 256 characters"


async def test_topic_and_audience_cannot_depend_on_the_subscriber(
    site: Site, client: httpx.AsyncClient
) -> None:
    message = error(
        await post(client, site, {"title": "t", "topic": "{{ subscriber.language }}"}),
        400,
        "invalid_template",
    )
    assert "topic" in message


@pytest.mark.parametrize(
    "localized",
    [
        {"not a language": {"title": "x"}},
        {"de": {"title": "x", "audience": {"all": True}}},
        {"de": "Hallo"},
        {"de": {"title": "x"}, "DE": {"title": "y"}},
        [],
    ],
)
async def test_bad_variants_are_refused(
    site: Site, client: httpx.AsyncClient, localized: Any
) -> None:
    error(await post(client, site, {"title": "t", "localized": localized}), 400, "invalid_request")


async def test_variants_are_checked_like_the_default_and_shown_back(
    site: Site, client: httpx.AsyncClient
) -> None:
    error(
        await post(client, site, {"title": "t", "localized": {"de": {"url": "ftp://x"}}}),
        400,
        "invalid_request",
    )
    answer = await post(client, site, {"title": "t", "localized": {"de": {"title": "{{ 'T' }}"}}})
    shown = await created(client, site, answer)
    assert shown["localized"]["de"]["title"] == "T"
    assert shown["localized"]["de"]["lang"] == "de"
