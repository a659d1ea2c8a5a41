"""pushgate end to end: the real store, the real `pushgate serve`, the real admin API.

Rows per audience size: the loopback broadcast (median of runs), the same against the 50 ms
sink, and one more loopback broadcast with a subscribe probe running beside it. The row with
a slow push service is in slow_row.py.
"""

from __future__ import annotations

import time

from bench.broadcast import Broadcast, Done, broadcast
from bench.calibrate import encryption_us
from bench.config import FAR_DELAY_MS, TITLE
from bench.correctness import check_sample, json_with_title
from bench.env import BenchEnv
from bench.gateway import BenchSite, Gateway, create_site, fill_store
from bench.results import Row

MIN_BROADCAST_RATE = 100  # msgs/s; a broadcast slower than this is given up on
MIN_TIMEOUT_S = 60.0


def _timeout(size: int) -> float:
    return max(MIN_TIMEOUT_S, size / MIN_BROADCAST_RATE)


def _record(
    env: BenchEnv, row: Row, size: int, result: Broadcast, name: str, messages: int
) -> None:
    """`messages`: how many the timing covers (the healthy part, in the slow-service row);
    the sink log counts only the healthy ports."""
    log = env.sink.end_row(name)
    row.rates.append(messages / result.seconds)
    row.lost += max(0, messages - log.created)
    sample = check_sample(
        env.samples.take(), env.sample_indices(size), env.keys, json_with_title(TITLE)
    )
    if row.sample is None or not sample.ok:
        row.sample = sample
    ttfm = (log.first_start - result.answered_at) * 1000 if log.first_start else float("nan")
    row.runs_detail.append(
        {
            "seconds": result.seconds,
            "api_ms": result.api_ms,
            "first_msg_ms": ttfm,
            "cpu_per_1k": result.cpu_seconds / messages * 1000,
            "peak_rss": result.peak_rss,
            "peak_pss": result.peak_pss,
            "probe_p99_ms": result.probe_p99_ms,
            "speed_us": result.speed_us,
        }
    )
    row.cpu_per_1k = result.cpu_seconds / messages * 1000
    row.peak_rss = max(row.peak_rss or 0, result.peak_rss)
    row.peak_pss = max(row.peak_pss or 0, result.peak_pss)
    if result.probe_ms:
        row.extras["subscribe during broadcast"] = result.probe_summary()
    failed = result.counts.get("failed", 0) + result.counts.get("gone", 0)
    if failed:
        row.note = f"{failed} failed/gone in counts"


def run_broadcast(
    env: BenchEnv,
    gw: Gateway,
    site: BenchSite,
    row: Row,
    size: int,
    name: str,
    probe: bool = False,
    done: Done | None = None,
    messages: int | None = None,
) -> Broadcast:
    """One timed broadcast into `row`, its sink log kept as `name`; `done` and `messages`
    narrow the timing to part of the audience (the slow-service row's healthy part)."""
    env.sink.begin_row()
    env.samples.take()
    assert gw.proc is not None
    port = env.ports[0]
    speed_before = encryption_us()
    result = broadcast(
        gw.proc.pid,
        gw.base_url,
        site.api_key,
        size,
        _timeout(size),
        probe=(site.id, port) if probe else None,
        done=done,
    )
    result.speed_us = (speed_before + encryption_us()) / 2
    _record(env, row, size, result, name, size if messages is None else messages)
    time.sleep(0.5)  # let the last outcome writes settle before the next run
    return result


class PushgateRows:
    """pushgate's rows for one size: a store filled once and a gateway kept running, so that
    its loopback runs can be interleaved with the peers' runs; then the far and probe rows."""

    def __init__(self, env: BenchEnv, size: int) -> None:
        self.env, self.size = env, size
        self.loop = Row("pushgate", "pushgate end to end (serve + SQLite + admin API)", size)
        self.far_row = Row("pushgate_far", f"pushgate end to end, sink +{FAR_DELAY_MS} ms", size)
        self.probe_row = Row("pushgate_probe", "pushgate end to end + subscribe probe", size)
        self.site = create_site(env.out_dir / f"pushgate-{size}.db")
        fill_store(env, self.site, size)
        self.gw = Gateway(env, self.site)
        self.gw.start()

    def run_once(self, run: int) -> None:
        if self.loop.note:  # an earlier run failed
            return
        try:
            name = f"pushgate-{self.size}-{run}"
            run_broadcast(self.env, self.gw, self.site, self.loop, self.size, name)
        except RuntimeError as exc:
            self.loop.note = str(exc)[:200]

    def finish(self, far: bool) -> list[Row]:
        env, gw, site, size = self.env, self.gw, self.site, self.size
        try:
            if far and not self.loop.note:
                gw.stop()
                env.sink.restart(FAR_DELAY_MS)
                gw.start()
                run_broadcast(env, gw, site, self.far_row, size, f"pushgate-far-{size}")
                gw.stop()
                env.sink.restart(0)
                gw.start()
            if not self.loop.note:
                name = f"pushgate-probe-{size}"
                run_broadcast(env, gw, site, self.probe_row, size, name, probe=True)
        except RuntimeError as exc:
            self.loop.note = self.loop.note or str(exc)[:200]
        finally:
            gw.stop()
            if env.sink.delay_ms:
                env.sink.restart(0)
        return [r for r in (self.loop, self.far_row, self.probe_row) if r.rates or r.note]
