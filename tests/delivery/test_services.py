"""A push service's health: budget, timeout, circuit, and what /healthz shows of it."""

from __future__ import annotations

import pytest

from pushgate.delivery.services import (
    FAILURES_TO_OPEN,
    FIRST_OPEN_SECONDS,
    MAX_TIMEOUT_SECONDS,
    PROBE_BUDGET,
    Circuit,
    PushServiceHealth,
    service_key,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _health(clock: Clock) -> PushServiceHealth:
    return PushServiceHealth("push.example", base_timeout=10.0, full_budget=4000, clock=clock)


def test_service_key_is_the_host_with_a_port_only_when_not_default() -> None:
    assert service_key("https://fcm.googleapis.com/fcm/send/abc") == "fcm.googleapis.com"
    assert service_key("https://fcm.googleapis.com:443/x") == "fcm.googleapis.com"
    assert service_key("http://127.0.0.1:8090/push/1") == "127.0.0.1:8090"
    assert service_key("http://[::1]:8090/push/1") == "[::1]:8090"


def test_new_service_gets_a_probe_budget_until_it_answers(clock: Clock) -> None:
    health = _health(clock)
    assert health.room() == PROBE_BUDGET
    health.in_flight = PROBE_BUDGET
    assert health.room() == 0
    health.on_success()
    assert health.room() == 4000 - PROBE_BUDGET
    assert health.status() == "ok"


def test_timeout_follows_latency_within_the_setting_and_a_minute(clock: Clock) -> None:
    health = _health(clock)
    health.on_timings(10, 1.0, 0.2)  # 100 ms answers
    assert health.timeout == 10.0  # never below the configured timeout
    health.on_timings(4, 80.0, 20.5)  # 20 s answers
    assert health.timeout > 20.5 and health.timeout <= MAX_TIMEOUT_SECONDS
    assert health.status() == "degraded"


def test_timed_out_messages_make_the_next_timeout_longer(clock: Clock) -> None:
    health = _health(clock)
    for _ in range(3):  # one wave of timeouts, each sent with 10 s
        health.on_failure(timed_out_after=10.0)
    assert health.timeout == 30.0
    health.on_failure(timed_out_after=30.0)
    assert health.timeout == MAX_TIMEOUT_SECONDS


def test_circuit_opens_after_repeated_failures_probes_then_closes(clock: Clock) -> None:
    health = _health(clock)
    health.on_success()
    for _ in range(FAILURES_TO_OPEN - 1):
        health.on_failure()
    assert health.circuit is Circuit.CLOSED and health.status() == "degraded"
    health.on_failure()
    assert health.circuit is Circuit.OPEN and health.status() == "down"
    assert health.room() == 0 and health.wait_seconds() == pytest.approx(FIRST_OPEN_SECONDS)

    clock.now += FIRST_OPEN_SECONDS
    assert health.room() == PROBE_BUDGET and health.circuit is Circuit.HALF_OPEN
    health.on_failure()  # a failed probe opens it again, for longer
    assert health.circuit is Circuit.OPEN
    assert health.wait_seconds() == pytest.approx(2 * FIRST_OPEN_SECONDS)

    clock.now += 2 * FIRST_OPEN_SECONDS
    assert health.room() == PROBE_BUDGET
    health.on_success()
    assert health.circuit is Circuit.CLOSED and health.status() == "ok"
    assert health.room() == 4000


def test_a_service_that_sits_on_its_first_messages_is_sluggish(clock: Clock) -> None:
    health = _health(clock)
    health.in_flight = 3
    assert not health.sluggish()
    clock.now += 2
    assert health.sluggish()
    health.on_success()
    health.on_timings(1, 0.05, 0.05)
    assert not health.sluggish() and health.drains_quickly()
