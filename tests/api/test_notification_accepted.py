"""What the `202` of `POST /api/v1/notifications` says beside the id: `targeted_estimate`, the
audience's size now (0: the send reaches nobody), and `warnings` for a payload too large for
Firefox for Android."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from pushgate.api.notification_service import PAYLOAD_WARNING_BYTES, targeted_estimate
from pushgate.store.models import Audience
from tests.api.asgi import InProcess, in_process
from tests.api.test_filters import subscribe
from tests.api.test_subscriptions import FCM

MOZILLA = "https://updates.push.services.mozilla.com/wpush/v2/abc"
APPLE = "https://web.push.apple.com/QGuQyavXutnMH"


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path) as app:
        yield app


async def accepted(app: InProcess, **fields: Any) -> dict[str, Any]:
    answer = await app.client.post(
        "/api/v1/notifications", json={"title": "Hi"} | fields, headers=app.admin_headers
    )
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


async def three_readers(app: InProcess) -> list[str]:
    return [
        await subscribe(app, FCM, tags={"topic": "sports"}, external_id="u1"),
        await subscribe(app, MOZILLA, tags={"topic": "tech"}, external_id="u2"),
        await subscribe(app, APPLE, tags={"topic": "sports"}),
    ]


async def test_a_site_without_subscribers_is_estimated_at_zero(app: InProcess) -> None:
    created = await accepted(app)
    assert created["targeted_estimate"] == 0
    assert set(created) == {"id", "status", "targeted_estimate"}  # no warnings: none to give


async def test_every_audience_form_is_estimated_as_counted(app: InProcess) -> None:
    ids = await three_readers(app)
    segment = {"name": "sport", "filter": {"field": "tags.topic", "op": "eq", "value": "sports"}}
    answer = await app.client.post("/api/v1/segments", json=segment, headers=app.admin_headers)
    assert answer.status_code == 201, answer.text
    cases: list[tuple[Any, int]] = [
        (None, 3),
        ({"all": True}, 3),
        ({"tags": {"topic": "sports"}}, 2),
        ({"tags": {"topic": "politics"}}, 0),
        ({"external_ids": ["u1", "u2", "u9"]}, 2),
        ({"subscription_ids": ids[:1]}, 1),
        ({"filter": {"field": "tags.topic", "op": "in", "value": ["tech", "x"]}}, 1),
        ({"segment": "sport"}, 2),
    ]
    for audience, expected in cases:
        fields = {} if audience is None else {"audience": audience}
        assert (await accepted(app, **fields))["targeted_estimate"] == expected, audience


async def test_scheduled_and_local_time_sends_are_estimated_too(app: InProcess) -> None:
    await three_readers(app)
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    sports = {"tags": {"topic": "sports"}}
    assert (await accepted(app, send_at=later, audience=sports))["targeted_estimate"] == 2
    local = await accepted(app, deliver_at_local="07:00", audience=sports)
    assert local["targeted_estimate"] == 2


async def test_the_estimate_is_left_out_where_counting_is_not_cheap(app: InProcess) -> None:
    await three_readers(app)
    now = time.time()
    sports = Audience(tags={"topic": "sports"})

    async def estimate(audience: Audience) -> int | None:
        return await targeted_estimate(app.store, app.site_id, audience, now, max_subscriptions=2)

    assert await estimate(sports) is None  # the site is past the limit: a tag count may walk it
    assert await estimate(Audience(everyone=True)) is None  # counted no further than the limit
    assert await estimate(Audience(external_ids=("u1",))) == 1  # a list reads its own index
    assert await targeted_estimate(app.store, app.site_id, sports, now, max_subscriptions=3) == 2


async def test_a_payload_over_2900_bytes_is_accepted_with_a_warning(app: InProcess) -> None:
    data = {"text": "x" * 2800}  # and about 240 bytes of title, timestamp, id and event URL
    created = await accepted(app, data=data)
    assert [w["code"] for w in created["warnings"]] == ["payload_large"]
    message = created["warnings"][0]["message"]
    assert "Firefox for Android" in message and "3,070" in message
    size = int(message.split(" bytes")[0].rsplit(" ", 1)[1])
    assert PAYLOAD_WARNING_BYTES < size < 2800 + 300


async def test_a_payload_of_2900_bytes_or_less_has_no_warnings(app: InProcess) -> None:
    created = await accepted(app, data={"text": "x" * 2600})  # about 2,840 bytes
    assert "warnings" not in created


async def test_a_large_localized_variant_is_warned_about_too(app: InProcess) -> None:
    created = await accepted(app, localized={"de": {"body": "ü" * 1500}})
    assert [w["code"] for w in created["warnings"]] == ["payload_large"]
