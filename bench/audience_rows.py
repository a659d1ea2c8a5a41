"""Issue #9's benchmark: counts, a segment broadcast against a broadcast to all, and a
`deliver_at_local` campaign's memory, on one store of N subscribers with typed tags.

All through the real `pushgate serve` and its HTTP API, against the bench's nginx sink:
1. `POST /api/v1/audiences/count` for a three-leaf filter, timed (median of COUNT_CALLS).
2. Pairs of broadcasts, interleaved (`runs` pairs on one gateway, all-first in odd rounds and
   segment-first in even ones): one to a saved 10 % segment, timed as bench/broadcast.py times
   a broadcast (from the API call until every outcome is stored), and one to everyone cut at the
   same size: timed from the API call until as many outcomes are stored as the segment holds,
   then cancelled. Both rates are outcomes stored per second over the same number of messages
   from the same start on the same store; a whole 1,000,000 broadcast per pair would make the
   section last most of an hour. Each pair's share and the median share are judged, and the
   segment's first message (start in the sink's log) as a median.
3. A `deliver_at_local` campaign to everyone (~400 zones) on a gateway started with the test
   clock (`PUSHGATE_TEST_CLOCK_FILE`) frozen mid-minute, so that no zone comes due: the peak
   RSS of the gateway's process tree while it expands the audience and writes every delivery's
   due time (until `counts.targeted` is N). With `deliver_local`, the clock then moves a day on
   and the campaign is delivered too, its peak RSS measured apart.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from bench.audience_store import (
    COUNT_FILTER,
    SEGMENT_FILTER,
    SEGMENT_NAME,
    bench_zones,
    prepare,
)
from bench.broadcast import BODY, POLL_S
from bench.config import TITLE
from bench.env import BenchEnv
from bench.gateway import BenchSite, Gateway
from bench.procstat import Monitor
from pushgate.clock import TEST_CLOCK_ENV, FileClock

COUNT_CALLS = 5
DEFAULT_RUNS = 3  # pairs of broadcasts (to everyone cut, to the segment)
MIN_RATE = 100  # msgs/s; a broadcast or expansion slower than this is given up on
MIN_TIMEOUT_S = 60.0
DAY_S = 86_400
Logger = Callable[[str], None]


@dataclass
class Send:
    """One timed broadcast."""

    audience: str
    messages: int = 0  # outcomes stored when timed (all of them unless cut)
    seconds: float = 0.0  # API call until every outcome stored (or `cut` of them)
    cut: int | None = None  # to everyone, stopped once this many outcomes were stored
    sink_201: int = 0  # answered 201 by the sink, the cancelled tail's in-flight sends too
    sink_nth_s: float | None = None  # API answer until the sink answered the `messages`-th 201
    api_ms: float = 0.0
    first_msg_ms: float | None = None  # API answer until the first request reached the sink
    answered_at: float = 0.0  # wall clock when the API answered
    targeted: int = 0

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    @property
    def sink_rate(self) -> float:
        """The cross-check: the same messages over the time to their last 201 at the sink."""
        return self.messages / self.sink_nth_s if self.sink_nth_s else 0.0


@dataclass
class Local:
    """The deliver_at_local campaign."""

    zones: int = 0
    expand_seconds: float = 0.0  # API call until counts.targeted == N
    peak_rss: int = 0  # bytes, gateway process tree, during expansion and scheduling
    peak_pss: int = 0
    delivered: int | None = None  # with deliver_local: answered 201 after the clock moved
    deliver_seconds: float | None = None
    deliver_peak_rss: int | None = None
    deliver_peak_pss: int | None = None


@dataclass
class AudienceResult:
    size: int
    cache_reused: bool = False
    count_ms: list[float] = field(default_factory=list)  # every call, first (cold) included
    count: int = 0
    segment_count: int = 0
    sends: list[Send] = field(default_factory=list)
    local: Local | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def count_median_ms(self) -> float | None:
        return statistics.median(self.count_ms) if self.count_ms else None

    def send(self, audience: str) -> Send | None:
        return next((s for s in self.sends if s.audience == audience and s.seconds), None)

    def pairs(self) -> list[tuple[Send, Send]]:
        """(to everyone cut, to the segment) of each round, in run order."""
        every = [s for s in self.sends if s.audience == "all" and s.seconds]
        seg = [s for s in self.sends if s.audience == "segment" and s.seconds]
        return list(zip(every, seg, strict=False))  # a failed send ends the pairs

    def shares(self) -> list[float]:
        return [seg.rate / every.rate for every, seg in self.pairs() if every.rate]

    def sink_shares(self) -> list[float]:
        return [seg.sink_rate / every.sink_rate for every, seg in self.pairs() if every.sink_rate]

    def first_msg_median_ms(self) -> float | None:
        found = [s.first_msg_ms for s in self.sends if s.audience == "segment" and s.seconds]
        values = [ms for ms in found if ms is not None]
        return statistics.median(values) if values else None


def _timeout(size: int) -> float:
    return max(MIN_TIMEOUT_S, size / MIN_RATE)


class ClockGateway(Gateway):
    """`pushgate serve` reading the test clock from a file the bench writes."""

    def __init__(self, env: BenchEnv, site: BenchSite, clock_file: Path) -> None:
        super().__init__(env, site)
        self.clock_file = clock_file

    def _environ(self) -> dict[str, str]:
        return super()._environ() | {TEST_CLOCK_ENV: str(self.clock_file)}


class Api:
    """The admin API calls the section makes, on one aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session, self.base = session, base_url

    async def call(self, method: str, path: str, body: Any = None, ok: int = 200) -> Any:
        async with self.session.request(method, self.base + path, json=body) as resp:
            doc = await resp.json()
            if resp.status != ok:
                raise RuntimeError(f"{method} {path}: {resp.status} {doc}")
            return doc

    async def wait(self, nid: str, done: Callable[[dict[str, Any]], bool], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            doc = await self.call("GET", f"/api/v1/notifications/{nid}")
            if done(doc):
                return doc
            await asyncio.sleep(POLL_S)
        raise RuntimeError(f"notification {nid} not done after {timeout:.0f} s: {doc['counts']}")


def _session(site: BenchSite) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(headers={"Authorization": f"Bearer {site.api_key}"})


async def _counts(gw: Gateway, site: BenchSite, out: AudienceResult) -> None:
    async with _session(site) as session:
        api = Api(session, gw.base_url)
        for _ in range(COUNT_CALLS):
            start = time.perf_counter()
            doc = await api.call(
                "POST", "/api/v1/audiences/count", {"audience": {"filter": COUNT_FILTER}}
            )
            out.count_ms.append((time.perf_counter() - start) * 1000)
            out.count = doc["count"]
        body = {"name": SEGMENT_NAME, "filter": SEGMENT_FILTER, "description": "bench: 10 %"}
        await api.call("POST", "/api/v1/segments", body, ok=201)
        out.segment_count = (await api.call("GET", f"/api/v1/segments/{SEGMENT_NAME}"))["count"]


def _stored(doc: dict[str, Any]) -> int:
    return int(doc["counts"]["targeted"] - doc["counts"]["pending"])


def _settled(expected: int) -> Callable[[dict[str, Any]], bool]:
    def done(doc: dict[str, Any]) -> bool:
        counts = doc["counts"]
        return doc.get("status") == "done" or (
            counts["targeted"] >= expected and counts["pending"] == 0
        )

    return done


async def _broadcast(
    gw: Gateway, site: BenchSite, audience: dict[str, Any], expected: int, cut: int | None
) -> Send:
    """Timed as bench/broadcast.py times the fan-out rows: from the API call until every
    outcome is stored, or with `cut` until that many are, the rest then cancelled."""
    send = Send(next(iter(audience)), cut=cut)
    body = {"title": TITLE, "body": BODY, "audience": audience}
    done = _settled(expected) if cut is None else lambda d: _stored(d) >= cut
    async with _session(site) as session:
        api = Api(session, gw.base_url)
        start = time.perf_counter()
        created = await api.call("POST", "/api/v1/notifications", body, ok=202)
        send.api_ms = (time.perf_counter() - start) * 1000
        send.answered_at = time.time()
        doc = await api.wait(created["id"], done, _timeout(cut or expected))
        send.seconds = time.perf_counter() - start
        send.messages, send.targeted = _stored(doc), doc["counts"]["targeted"]
        if cut is not None and doc.get("status") != "done":
            await _cancel(api, created["id"])
    return send


async def _cancel(api: Api, nid: str) -> None:
    """Cancel the rest and wait until nothing of it is pending, so the next send runs alone."""
    try:
        await api.call("POST", f"/api/v1/notifications/{nid}/cancel")
    except RuntimeError as exc:
        if "not_cancellable" not in str(exc):  # it finished meanwhile
            raise
    await api.wait(nid, lambda d: d["counts"]["pending"] == 0, MIN_TIMEOUT_S)


def _timed_send(
    env: BenchEnv,
    gw: Gateway,
    site: BenchSite,
    audience: dict[str, Any],
    expected: int,
    cut: int | None = None,
) -> Send:
    env.sink.begin_row()
    env.samples.take()
    send = asyncio.run(_broadcast(gw, site, audience, expected, cut))
    name = f"audience-{send.audience}-{expected}"
    log = env.sink.end_row(name)
    send.sink_201 = log.created
    nth = nth_201_end(env.sink.out_dir / f"access-{name}.log", send.messages)
    if nth is not None:
        send.sink_nth_s = nth - send.answered_at
    if log.first_start:
        send.first_msg_ms = (log.first_start - send.answered_at) * 1000
    time.sleep(0.5)  # let the last outcome writes settle before the next broadcast
    return send


def nth_201_end(path: Path, n: int) -> float | None:
    """When the sink finished its `n`-th 201 (epoch seconds), from its access log."""
    if not path.exists() or n < 1:
        return None
    with path.open() as fh:
        ends = sorted(float(line.split()[0]) for line in fh if line.split()[2] == "201")
    return ends[n - 1] if len(ends) >= n else None


def _local_time(now: float) -> str:
    """The campaign's local time: an hour after the clock's UTC time. Any time would do: over
    400 zones the due times spread across the whole next day either way."""
    return (datetime.fromtimestamp(now, UTC) + timedelta(hours=1)).strftime("%H:%M")


async def _campaign(gw: Gateway, site: BenchSite, size: int, now: float) -> tuple[str, float]:
    body = {
        "title": TITLE,
        "body": BODY,
        "audience": {"all": True},
        "deliver_at_local": _local_time(now),
    }
    async with _session(site) as session:
        api = Api(session, gw.base_url)
        start = time.perf_counter()
        created = await api.call("POST", "/api/v1/notifications", body, ok=202)
        await api.wait(created["id"], lambda d: d["counts"]["targeted"] >= size, _timeout(size))
        return created["id"], time.perf_counter() - start


async def _deliver(gw: Gateway, site: BenchSite, nid: str, size: int) -> float:
    async with _session(site) as session:
        start = time.perf_counter()
        await Api(session, gw.base_url).wait(nid, _settled(size), _timeout(size))
        return time.perf_counter() - start


def _local_campaign(env: BenchEnv, site: BenchSite, size: int, deliver: bool) -> Local:
    clock = env.out_dir / "audience-clock.txt"
    now = float(int(time.time())) + 30.5  # mid-minute: every zone's due time is a whole minute
    FileClock.write(clock, now)
    gw = ClockGateway(env, site, clock)
    gw.start()
    local = Local(zones=len(bench_zones()))
    try:
        assert gw.proc is not None
        with Monitor(gw.proc.pid) as monitor:
            nid, local.expand_seconds = asyncio.run(_campaign(gw, site, size, now))
            time.sleep(1.0)  # the last batch's due times written and committed
        local.peak_rss, local.peak_pss = monitor.peak_rss, monitor.peak_pss
        if deliver:
            env.sink.begin_row()
            with Monitor(gw.proc.pid) as monitor:
                FileClock.write(clock, now + DAY_S)  # every zone's local time has come
                local.deliver_seconds = asyncio.run(_deliver(gw, site, nid, size))
            local.delivered = env.sink.end_row(f"audience-local-{size}").created
            local.deliver_peak_rss, local.deliver_peak_pss = monitor.peak_rss, monitor.peak_pss
    finally:
        gw.stop()
    return local


def _pairs(
    env: BenchEnv, gw: Gateway, site: BenchSite, out: AudienceResult, runs: int, log: Logger
) -> None:
    """`runs` pairs, interleaved; the order flips each round (as the templated row's pairs do
    in bench/), so that neither send always meets the deliveries the other just wrote."""
    seg_n = out.segment_count
    for run in range(runs):
        pair: list[tuple[dict[str, Any], int, int | None]] = [
            ({"all": True}, out.size, seg_n),
            ({"segment": SEGMENT_NAME}, seg_n, None),
        ]
        for audience, expected, cut in pair if run % 2 == 0 else pair[::-1]:
            what = f"{expected:,}" if cut is None else f"cut at {cut:,}"
            log(f"[{out.size:,}] audience: run {run + 1}: broadcast to {audience} ({what}) ...")
            send = _timed_send(env, gw, site, audience, expected, cut)
            out.sends.append(send)
            want = expected if cut is None else cut
            if send.sink_201 < want:
                out.problems.append(f"{send.audience}: sink answered {send.sink_201} of {want}")


def run_audience(
    env: BenchEnv, size: int, log: Logger, *, runs: int = DEFAULT_RUNS, deliver_local: bool = False
) -> AudienceResult:
    """The whole section for one size; a step that fails is named in `problems`."""
    out = AudienceResult(size)
    site, out.cache_reused = prepare(env, size, log)
    gw = Gateway(env, site)
    gw.start()
    try:
        log(f"[{size:,}] audience: counts and the segment ...")
        asyncio.run(_counts(gw, site, out))
        _pairs(env, gw, site, out, runs, log)
    except RuntimeError as exc:
        out.problems.append(str(exc)[:300])
    finally:
        gw.stop()
    try:
        log(f"[{size:,}] audience: deliver_at_local campaign over {len(bench_zones())} zones ...")
        out.local = _local_campaign(env, site, size, deliver_local)
        if deliver_local and out.local.delivered != size:
            out.problems.append(f"local campaign: sink answered {out.local.delivered} of {size}")
    except RuntimeError as exc:
        out.problems.append(f"local campaign: {str(exc)[:300]}")
    return out
