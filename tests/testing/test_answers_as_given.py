"""A fault with its own body and headers: the local push service answers as another push
service would (Apple's JSON reason, WNS's headers, FCM's plain text), in process and over HTTP."""

import aiohttp
import pytest

from pushgate.testing import Fault, LocalPushService
from tests.testing.pushing import Pusher


async def test_a_fault_answers_with_its_own_body_and_headers(
    service: LocalPushService, push: Pusher
) -> None:
    apple, wns = service.new_browser(), service.new_browser()
    service.inject(Fault(403, endpoint_id=apple.id, body='{"reason":"BadJwtToken"}'))
    headers = {"X-WNS-Status": "appthrottled"}
    service.inject(Fault(406, endpoint_id=wns.id, retry_after="30", headers=headers))
    refused = await push.encrypted(apple)
    assert (refused.status, refused.json()) == (403, {"reason": "BadJwtToken"})
    assert refused.headers["Content-Type"].startswith("application/json")
    throttled = await push.encrypted(wns)
    assert (throttled.status, throttled.text) == (406, "")
    assert throttled.headers["X-WNS-Status"] == "appthrottled"
    assert throttled.headers["Retry-After"] == "30"


async def test_a_fault_with_headers_and_body_is_injected_over_http(
    service: LocalPushService, push: Pusher, http: aiohttp.ClientSession
) -> None:
    browser = service.new_browser()
    fault = {"status": 410, "body": "NotRegistered", "headers": {"X-Seen": "1"}}
    async with http.post(f"{service.base_url}/_test/faults", json=fault) as response:
        assert response.status == 201
    answer = await push.encrypted(browser)
    assert (answer.status, answer.text, answer.headers["X-Seen"]) == (410, "NotRegistered", "1")
    assert answer.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("bad", [{"headers": ["X-A"]}, {"headers": {"X-A": 1}}, {"body": 5}])
async def test_headers_and_body_of_the_wrong_type_answer_400(
    service: LocalPushService, http: aiohttp.ClientSession, bad: dict[str, object]
) -> None:
    async with http.post(f"{service.base_url}/_test/faults", json=bad) as response:
        assert response.status == 400, bad
