"""The buckets of the push-service answer-time histogram, shared by the send workers (which
count answers into them) and the metrics (which expose them)."""

from __future__ import annotations

# Upper bounds, in seconds, of the answer times counted per push service: a healthy push
# service answers in 20-200 ms; the top buckets reach the push timeout's range.
LATENCY_BOUNDS_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
