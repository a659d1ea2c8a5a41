import asyncio
import time

import aiohttp
import pytest

from pushgate.testing import Fault, LocalPushService
from tests.testing.pushing import Pusher


async def test_fault_for_one_endpoint_answers_410_there_and_201_elsewhere(
    service: LocalPushService, push: Pusher
):
    gone, alive = service.new_browser(), service.new_browser()
    service.inject(Fault(status=410, endpoint_id=gone.id))
    assert (await push.encrypted(gone)).status == 410
    assert (await push.encrypted(alive)).status == 201
    assert (await push.encrypted(gone)).status == 410  # times=None: until cleared
    assert [m.endpoint_id for m in service.received] == [alive.id]


async def test_fault_429_for_n_times_sends_retry_after_then_accepts(
    service: LocalPushService, push: Pusher
):
    browser = service.new_browser()
    service.inject(Fault(status=429, times=2, retry_after="7"))
    first, second, third = [await push.encrypted(browser, b"x") for _ in range(3)]
    assert (first.status, second.status, third.status) == (429, 429, 201)
    assert first.headers["Retry-After"] == second.headers["Retry-After"] == "7"
    assert "Retry-After" not in third.headers
    assert first.json()["code"] == 429
    assert len(browser.messages) == 1


async def test_faulted_requests_are_in_requests_but_not_received(
    service: LocalPushService, push: Pusher
):
    browser = service.new_browser()
    service.inject(Fault(status=503, times=1, retry_after="Wed, 21 Oct 2037 07:28:00 GMT"))
    answer = await push.encrypted(browser)
    assert answer.status == 503
    assert answer.headers["Retry-After"] == "Wed, 21 Oct 2037 07:28:00 GMT"
    assert service.received == []
    assert [(r.status, r.fault) for r in service.requests] == [(503, True)]


async def test_fault_answers_before_validation_even_for_an_invalid_push(
    service: LocalPushService, push: Pusher
):
    browser = service.new_browser()
    service.inject(Fault(status=500, times=1))
    assert (await push.encrypted(browser, b"x", {"TTL": None})).status == 500


async def test_clear_faults_restores_acceptance(service: LocalPushService, push: Pusher):
    browser = service.new_browser()
    service.inject(Fault(status=502))
    assert (await push.encrypted(browser)).status == 502
    service.clear_faults()
    assert (await push.encrypted(browser)).status == 201


async def test_first_injected_matching_fault_wins(service: LocalPushService, push: Pusher):
    browser = service.new_browser()
    service.inject(Fault(status=500, times=1))
    service.inject(Fault(status=404, times=1))
    statuses = [(await push.encrypted(browser)).status for _ in range(3)]
    assert statuses == [500, 404, 201]


async def test_delay_fault_with_success_status_answers_201_late(
    service: LocalPushService, push: Pusher
):
    browser = service.new_browser()
    service.inject(Fault(status=201, times=1, delay=0.3))
    started = time.monotonic()
    answer = await push.encrypted(browser, b"late")
    assert answer.status == 201 and time.monotonic() - started >= 0.3
    assert [m.plaintext for m in browser.messages] == [b"late"]


async def test_delay_longer_than_client_timeout_times_the_client_out(
    service: LocalPushService, push: Pusher
):
    browser = service.new_browser()
    service.inject(Fault(status=503, times=1, delay=1.0))
    body, headers = b"x" * 100, push.headers(browser.endpoint)
    with pytest.raises(asyncio.TimeoutError):
        timeout = aiohttp.ClientTimeout(total=0.1)
        await push.http.post(browser.endpoint, data=body, headers=headers, timeout=timeout)


def test_inject_fault_with_zero_times_is_refused():
    service = LocalPushService()
    with pytest.raises(ValueError, match="times"):
        service.inject(Fault(status=500, times=0))
