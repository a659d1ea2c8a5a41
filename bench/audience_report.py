"""The audience section (issue #9) under the fan-out table: figures, targets and verdicts."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.audience_rows import AudienceResult, Send
from bench.audience_store import COUNT_FILTER, SEGMENT_FILTER
from bench.report import MB, Target

COUNT_LIMIT_MS = 1000
SEGMENT_SHARE = 0.9
FIRST_MSG_LIMIT_MS = 100
RSS_LIMIT_MB = 300


def _compact(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"))


def targets(res: AudienceResult) -> list[Target]:
    at = f" (at {res.size:,})"
    found = []
    median = res.count_median_ms
    count_text = f"POST /api/v1/audiences/count, 3-leaf filter, < 1 s{at}"
    if median is None:
        found.append(Target(count_text, "-", None))
    else:
        found.append(Target(count_text, f"{median:,.0f} ms (median)", median < COUNT_LIMIT_MS))
    shares = res.shares()
    share_text = f"10 % segment broadcast keeps ≥ 90 % of all-subscribers msgs/s{at}"
    if not shares:
        found.append(Target(share_text, "-", None))
    else:
        share = statistics.median(shares)
        value = f"{share:.1%} (median of {len(shares)} interleaved pairs)"
        found.append(Target(share_text, value, share >= SEGMENT_SHARE))
    first_text = f"segment broadcast: 1st message < 100 ms after the API answer{at}"
    ms = res.first_msg_median_ms()
    if ms is None:
        found.append(Target(first_text, "-", None))
    else:
        found.append(Target(first_text, f"{ms:,.0f} ms (median)", ms < FIRST_MSG_LIMIT_MS))
    found.append(_rss_target(res))
    return found


def _rss_target(res: AudienceResult) -> Target:
    local = res.local
    text = f"deliver_at_local over ~400 zones: peak RSS < 300 MB{(f' (at {res.size:,})')}"
    if local is None or not local.peak_rss:
        return Target(text, "-", None)
    peaks = [local.peak_rss, local.deliver_peak_rss or 0]
    rss = max(peaks) / MB
    phase = (
        "expanding, scheduling and delivering"
        if local.deliver_peak_rss
        else "expanding and scheduling"
    )
    return Target(text, f"{rss:,.0f} MB while {phase}", rss < RSS_LIMIT_MB)


def _send_line(send: Send, run: int) -> str:
    first = "-" if send.first_msg_ms is None else f"+{send.first_msg_ms:,.0f} ms"
    what = "segment" if send.cut is None else f"all, cut at {send.cut:,} then cancelled"
    return (
        f"| run {run}: broadcast to {what} | {send.messages:,} | {send.seconds:,.1f} s "
        f"| {send.rate:,.0f} msgs/s | API {send.api_ms:,.0f} ms, 1st msg {first} |"
    )


def _pair_lines(res: AudienceResult) -> list[str]:
    lines = []
    for run, (every, seg) in enumerate(res.pairs(), 1):
        first = (every, seg) if res.sends.index(every) < res.sends.index(seg) else (seg, every)
        lines += [_send_line(send, run) for send in first]
    shares = res.shares()
    if shares:
        each = " / ".join(f"{share:.1%}" for share in shares)
        seg_rate = statistics.median(seg.rate for _, seg in res.pairs())
        all_rate = statistics.median(every.rate for every, _ in res.pairs())
        sink = " / ".join(f"{share:.1%}" for share in res.sink_shares()) or "-"
        lines.append(
            f"| segment / all, pair by pair | | | {statistics.median(shares):.1%} (median) "
            f"| {each}; medians {seg_rate:,.0f} / {all_rate:,.0f} msgs/s; cross-check at the "
            f"sink (API answer until the same count of 201s): {sink} |"
        )
    return lines


def _figures(res: AudienceResult) -> list[str]:
    lines = ["| measure | subscribers | time | figure | notes |", "|---|---:|---:|---:|---|"]
    if res.count_ms:
        calls = ", ".join(f"{ms:,.0f}" for ms in res.count_ms)
        lines.append(
            f"| POST /api/v1/audiences/count (3 leaves) | {res.count:,} of {res.size:,} "
            f"| {res.count_median_ms:,.0f} ms | median of {len(res.count_ms)} | calls: {calls} ms |"
        )
    lines += _pair_lines(res)
    local = res.local
    if local is not None and local.peak_rss:
        lines.append(
            f"| deliver_at_local over {local.zones} zones: expand + schedule | {res.size:,} "
            f"| {local.expand_seconds:,.1f} s | peak RSS {local.peak_rss / MB:,.0f} MB "
            f"| PSS {local.peak_pss / MB:,.0f} MB; test clock frozen, nothing due |"
        )
        if local.deliver_seconds is not None:
            rss, pss = (local.deliver_peak_rss or 0) / MB, (local.deliver_peak_pss or 0) / MB
            lines.append(
                f"| the same campaign delivered (clock + 24 h) | {local.delivered or 0:,} "
                f"| {local.deliver_seconds:,.1f} s | peak RSS {rss:,.0f} MB | PSS {pss:,.0f} MB |"
            )
    return lines


def render(results: Sequence[AudienceResult]) -> str:
    """The section as markdown: per size, the figures, then the targets."""
    lines = ["## Audiences (issue #9): filters, segments, local time", ""]
    segment = _compact(SEGMENT_FILTER)
    lines.append(
        f"Count filter `{_compact(COUNT_FILTER)}`; segment `bench-pro` = `{segment}`. "
        "Subscribers carry 10 typed tags, one of 20 languages, one of 400 zones, "
        "created_at spread over a year. Each run is a pair on one gateway, all-first in odd "
        "runs, segment-first in even ones: a broadcast to the segment, timed until every outcome "
        "is stored, and one to everyone cut once as many outcomes are stored as the segment "
        "holds (then cancelled), so both rates are outcomes per second over the same number of "
        "messages from the API call on the same store."
    )
    for res in results:
        cache = "reused the cached store" if res.cache_reused else "filled the store"
        lines += ["", f"### {res.size:,} subscribers ({cache})", ""]
        lines += _figures(res)
        lines += ["", "| target (issue #9) | measured | verdict |", "|---|---|---|"]
        lines += [f"| {t.text} | {t.value} | {t.verdict()} |" for t in targets(res)]
        lines += [f"\nProblem: {p}" for p in res.problems]
    return "\n".join(lines) + "\n"


def to_json(results: Sequence[AudienceResult]) -> list[dict[str, Any]]:
    return [
        asdict(r)
        | {
            "count_median_ms": r.count_median_ms,
            "shares": r.shares(),
            "sink_shares": r.sink_shares(),
            "first_msg_median_ms": r.first_msg_median_ms(),
            "targets": [asdict(t) | {"verdict": t.verdict()} for t in targets(r)],
        }
        for r in results
    ]


def add_to_json(results: Sequence[AudienceResult], path: Path) -> None:
    """Add the section to a latest.json that report.write_json wrote."""
    doc = json.loads(path.read_text()) if path.is_file() else {}
    doc["audience"] = to_json(results)
    path.write_text(json.dumps(doc, indent=1, default=str))
