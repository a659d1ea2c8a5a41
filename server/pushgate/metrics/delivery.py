"""Delivery counters and answer-time histograms, counted where the engine collects outcomes.

The dispatcher (main process) tells these once per batch of accepted messages and once per
other outcome: the send workers count answer times into buckets themselves, so nothing here
runs per accepted message.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import HistogramMetricFamily, Metric

from pushgate.audience.fields import push_service_of
from pushgate.delivery.latency import LATENCY_BOUNDS_SECONDS
from pushgate.webpush.responses import Verdict

OUTCOME_LABELS = {
    Verdict.ACCEPTED: "accepted",
    Verdict.FAILED: "failed",
    Verdict.GONE: "gone",
    Verdict.RETRY: "retried",
}


def service_label(service_key: str) -> str:
    """fcm, mozilla, apple, wns or other, of a push service's `host[:port]` (services.py)."""
    return push_service_of(f"https://{service_key}/")


class LatencyHistogram:
    """Answer times per push service, from the bucket counts the send workers report."""

    def __init__(self) -> None:
        self._buckets: dict[str, list[int]] = {}
        self._sums: dict[str, float] = {}

    def add(self, service: str, total_seconds: float, buckets: list[int]) -> None:
        mine = self._buckets.setdefault(service, [0] * (len(LATENCY_BOUNDS_SECONDS) + 1))
        for index, count in enumerate(buckets):
            mine[index] += count
        self._sums[service] = self._sums.get(service, 0.0) + total_seconds

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(
            "pushgate_push_service_latency_seconds",
            "Seconds a push service took to answer a message, by push service.",
            labels=["push_service"],
        )
        bounds = [*(str(b) for b in LATENCY_BOUNDS_SECONDS), "+Inf"]
        for service, counts in sorted(self._buckets.items()):
            cumulative, running = [], 0
            for bound, count in zip(bounds, counts, strict=True):
                running += count
                cumulative.append((bound, float(running)))
            family.add_metric([service], cumulative, self._sums[service])
        yield family


class DeliveryMetrics:
    """What the dispatcher reports, per push service (fcm, mozilla, apple, wns, other)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Counter(
            "pushgate_messages",
            "Messages answered (or refused before sending), by push service and outcome.",
            ["push_service", "outcome"],
            registry=registry,
        )
        self.retries = Counter(
            "pushgate_retries",
            "Messages sent again after an earlier attempt asked for a retry, by push service.",
            ["push_service"],
            registry=registry,
        )
        self.latency = LatencyHistogram()
        registry.register(self.latency)

    def accepted(self, service_key: str, count: int, retried: int) -> None:
        """`count` messages accepted at once, `retried` of them on a later attempt."""
        service = service_label(service_key)
        self.messages.labels(service, "accepted").inc(count)
        if retried:
            self.retries.labels(service).inc(retried)

    def outcome(self, service_key: str, verdict: Verdict, retried: bool) -> None:
        service = service_label(service_key)
        self.messages.labels(service, OUTCOME_LABELS[verdict]).inc()
        if retried:
            self.retries.labels(service).inc()

    def timings(self, service_key: str, total_seconds: float, buckets: list[int]) -> None:
        self.latency.add(service_label(service_key), total_seconds, buckets)
