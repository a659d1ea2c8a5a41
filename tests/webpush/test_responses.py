import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from pushgate.webpush.responses import (
    MAX_RETRY_AFTER_SECONDS,
    MIN_RETRY_AFTER_SECONDS,
    RETRY_AFTER_JITTER_SECONDS,
    Verdict,
    backoff_delay,
    classify,
    parse_retry_after,
    retry_after_delay,
)


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (201, Verdict.ACCEPTED),
        (202, Verdict.ACCEPTED),
        (404, Verdict.GONE),
        (410, Verdict.GONE),
        (429, Verdict.RETRY),
        (503, Verdict.RETRY),
        (406, Verdict.RETRY),
        (500, Verdict.RETRY),
        (502, Verdict.RETRY),
        (0, Verdict.RETRY),
        (400, Verdict.FAILED),
        (401, Verdict.FAILED),
        (403, Verdict.FAILED),
        (413, Verdict.FAILED),
    ],
)
def test_classify_maps_each_push_service_answer(status, verdict):
    assert classify(status, None).verdict is verdict


def test_retry_after_seconds_and_http_date():
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90
    assert parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now) == 0
    assert parse_retry_after("garbage", now) is None
    assert 7 <= classify(429, "7", now=now).delay <= 7 + RETRY_AFTER_JITTER_SECONDS


@pytest.mark.parametrize("advice", ["0", "00", "Thu, 01 Jan 1970 00:00:00 GMT"])
def test_retry_after_zero_or_past_is_floored_with_jitter(advice):
    delays = {classify(503, advice, attempt=0).delay for _ in range(50)}
    assert min(delays) >= MIN_RETRY_AFTER_SECONDS
    assert max(delays) <= MIN_RETRY_AFTER_SECONDS + RETRY_AFTER_JITTER_SECONDS
    assert len(delays) > 40  # jittered: 200 subscribers told "0" do not all come back at once


def test_retry_after_huge_is_capped():
    assert classify(429, "999999999").delay == MAX_RETRY_AFTER_SECONDS
    far = format_datetime(datetime.now(UTC) + timedelta(days=30), usegmt=True)
    assert classify(429, far).delay == MAX_RETRY_AFTER_SECONDS
    assert retry_after_delay(MAX_RETRY_AFTER_SECONDS - 0.5, random.Random(1)) <= (
        MAX_RETRY_AFTER_SECONDS
    )


def test_backoff_grows_and_is_capped():
    assert 0.5 <= backoff_delay(0) <= 1
    assert 8 <= backoff_delay(4) <= 16
    assert backoff_delay(50) <= 15 * 60
