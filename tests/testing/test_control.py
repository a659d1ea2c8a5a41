"""The `/_test/...` HTTP API, for a service running in another process."""

import aiohttp

from pushgate.testing import LocalPushService
from pushgate.testing.browser import SimulatedBrowser
from tests.testing.pushing import Pusher


async def test_post_faults_injects_a_fault_over_http(
    service: LocalPushService, push: Pusher, http: aiohttp.ClientSession
):
    browser = service.new_browser()
    fault = {"status": 503, "times": 1, "retry_after": "2"}
    async with http.post(f"{service.base_url}/_test/faults", json=fault) as response:
        assert response.status == 201
    answer = await push.encrypted(browser)
    assert answer.status == 503 and answer.headers["Retry-After"] == "2"
    assert (await push.encrypted(browser)).status == 201


async def test_delete_faults_clears_them_over_http(
    service: LocalPushService, push: Pusher, http: aiohttp.ClientSession
):
    browser = service.new_browser()
    await http.post(f"{service.base_url}/_test/faults", json={"status": 410})
    assert (await push.encrypted(browser)).status == 410
    async with http.delete(f"{service.base_url}/_test/faults") as response:
        assert response.status == 204
    assert (await push.encrypted(browser)).status == 201


async def test_post_faults_with_unknown_field_answers_400(
    service: LocalPushService, http: aiohttp.ClientSession
):
    for bad in ({"status": 500, "color": "red"}, {"status": "oops"}, {"times": 0}, [1]):
        async with http.post(f"{service.base_url}/_test/faults", json=bad) as response:
            assert response.status == 400, bad


async def test_post_browsers_returns_a_subscription_that_receives_pushes(
    service: LocalPushService, push: Pusher, http: aiohttp.ClientSession
):
    async with http.post(f"{service.base_url}/_test/browsers") as response:
        assert response.status == 201
        sub = await response.json()
    assert sub["endpoint"].startswith(f"{service.base_url}/push/")
    browser = service.browsers[sub["endpoint"].rsplit("/", 1)[1]]
    assert sub == browser.subscription()
    assert (await push.encrypted(browser, b"over http")).status == 201


async def test_get_received_since_n_lists_later_messages_decrypted(
    service: LocalPushService, push: Pusher, http: aiohttp.ClientSession
):
    browser: SimulatedBrowser = service.new_browser()
    for text in (b"first", b"second", b"third"):
        await push.encrypted(browser, text, {"Topic": "t1"})
    async with http.get(f"{service.base_url}/_test/received?since=1") as response:
        listed = await response.json()
    assert [m["plaintext"] for m in listed] == ["second", "third"]
    assert listed[0]["endpoint_id"] == browser.id and listed[0]["headers"]["Topic"] == "t1"
    assert listed[0]["decrypt_error"] is None


async def test_get_received_with_bad_since_answers_400(
    service: LocalPushService, http: aiohttp.ClientSession
):
    async with http.get(f"{service.base_url}/_test/received?since=-1") as response:
        assert response.status == 400
