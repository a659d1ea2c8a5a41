"""pushgate end to end: the real store, the real `pushgate serve`, the real admin API.

Rows per audience size: the loopback broadcast (median of runs); the same with its title a
template that reads each subscriber's tag `name` (issue #11), its runs interleaved with the
plain ones on the same gateway and store, and after them the latency of calls to an incoming
webhook on that gateway; the loopback broadcast against the 50 ms sink, and one more with a
subscribe probe running beside it; with
PostgreSQL (issue #10), the loopback broadcast on a database of the bench's PostgreSQL server,
by one `serve`, and by `serve --no-deliver` with two `pushgate worker` processes sending. The
row with a slow push service is in slow_row.py.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from bench.broadcast import Broadcast, Done, broadcast
from bench.calibrate import encryption_us
from bench.config import FAR_DELAY_MS, TEMPLATED_TITLE, TITLE, templated_title
from bench.correctness import (
    PerSubscriber,
    check_sample_each,
    json_with_title,
    title_per_subscriber,
)
from bench.env import BenchEnv
from bench.gateway import (
    BenchSite,
    Gateway,
    WorkersGateway,
    create_site,
    create_site_in,
    fill_store,
)
from bench.postgres import BenchPostgres
from bench.procstat import Monitor
from bench.results import Row
from bench.webhook import webhook_latency

MIN_BROADCAST_RATE = 100  # msgs/s; a broadcast slower than this is given up on
MIN_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Content:
    """What a broadcast's title is, and what each sampled subscriber must decrypt."""

    title: str
    expect: PerSubscriber


PLAIN = Content(TITLE, lambda index: json_with_title(TITLE))
TEMPLATED = Content(TEMPLATED_TITLE, title_per_subscriber(templated_title))


def _timeout(size: int) -> float:
    return max(MIN_TIMEOUT_S, size / MIN_BROADCAST_RATE)


def _record(
    env: BenchEnv,
    row: Row,
    size: int,
    result: Broadcast,
    name: str,
    messages: int,
    expect: PerSubscriber,
) -> None:
    """`messages`: how many the timing covers (the healthy part, in the slow-service row);
    the sink log counts only the healthy ports."""
    log = env.sink.end_row(name)
    row.rates.append(messages / result.seconds)
    row.lost += max(0, messages - log.created)
    sample = check_sample_each(env.samples.take(), env.sample_indices(size), env.keys, expect)
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


def _beside(pids: list[int]) -> AbstractContextManager[Monitor | None]:
    """A Monitor of the row's processes other than the `serve` that `broadcast` samples."""
    return Monitor(*pids) if pids else nullcontext()


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
    db: BenchPostgres | None = None,
    content: Content = PLAIN,
) -> Broadcast:
    """One timed broadcast of `content` into `row`, its sink log kept as `name`; `done` and
    `messages` narrow the timing to part of the audience (the slow-service row's healthy
    part). With `db`, the PostgreSQL server's CPU over the broadcast goes into the run's
    details."""
    env.sink.begin_row()
    env.samples.take()
    assert gw.proc is not None
    port = env.ports[0]
    speed_before = encryption_us()
    db_before = db.cpu_seconds() if db is not None else 0.0
    with _beside(gw.pids[1:]) as others:
        result = broadcast(
            gw.proc.pid,
            gw.base_url,
            site.api_key,
            size,
            _timeout(size),
            probe=(site.id, port) if probe else None,
            done=done,
            title=content.title,
        )
    db_cpu = db.cpu_seconds() - db_before if db is not None else None
    if others is not None:  # summed peaks of processes sampled apart: at most a little high
        result.cpu_seconds += others.cpu_seconds
        result.peak_rss += others.peak_rss
        result.peak_pss += others.peak_pss
    result.speed_us = (speed_before + encryption_us()) / 2
    sent = size if messages is None else messages
    _record(env, row, size, result, name, sent, content.expect)
    if db_cpu is not None:
        row.runs_detail[-1]["db_cpu_per_1k"] = db_cpu / sent * 1000
    time.sleep(0.5)  # let the last outcome writes settle before the next run
    return result


HTTP1_LABEL = "pushgate end to end, HTTP/1.1 only (PUSHGATE_HTTP2=off)"
TEMPLATED_LABEL = (
    "pushgate end to end, title templated per subscriber (`{{ subscriber.tags.name }}`)"
)


class PushgateRows:
    """pushgate's rows for one size: a store filled once and a gateway kept running, so that
    its loopback runs, plain and templated, can be interleaved with the peers' runs; then the
    webhook calls, the far and the probe rows."""

    def __init__(self, env: BenchEnv, size: int) -> None:
        self.env, self.size = env, size
        self.loop = Row("pushgate", "pushgate end to end (serve + SQLite + admin API)", size)
        self.templated = Row("pushgate_templated", TEMPLATED_LABEL, size)
        self.far_row = Row("pushgate_far", f"pushgate end to end, sink +{FAR_DELAY_MS} ms", size)
        self.probe_row = Row("pushgate_probe", "pushgate end to end + subscribe probe", size)
        self.http1_row = Row("pushgate_http1", HTTP1_LABEL, size)
        self.site = create_site(env.out_dir / f"pushgate-{size}.db")
        fill_store(env, self.site, size)
        self.gw = Gateway(env, self.site)
        self.gw.start()

    def run_once(self, run: int) -> None:
        """One plain and one templated broadcast, in turn first, so that neither is always
        the one on a store grown by the other's deliveries."""
        both = [(self.loop, PLAIN, "pushgate"), (self.templated, TEMPLATED, "pushgate-tpl")]
        for row, content, prefix in both if run % 2 == 0 else both[::-1]:
            if self.loop.note or row.note:  # an earlier run failed
                continue
            try:
                name = f"{prefix}-{self.size}-{run}"
                run_broadcast(self.env, self.gw, self.site, row, self.size, name, content=content)
            except RuntimeError as exc:
                row.note = str(exc)[:200]

    def _webhook(self) -> None:
        """Issue #11's webhook calls, on the gateway the broadcasts ran on, now idle."""
        try:
            latency = webhook_latency(self.gw.base_url, self.site.api_key)
        except (RuntimeError, OSError) as exc:
            self.templated.extras["webhook"] = f"not measured: {str(exc)[:150]}"
            return
        self.templated.extras["webhook"] = latency.summary()
        p50, p99 = latency.percentile(0.5), latency.percentile(0.99)
        if p50 is not None and p99 is not None:
            figures = self.templated.figures
            figures["webhook_p50_ms"], figures["webhook_p99_ms"] = p50, p99
            figures["webhook_errors"] = len(latency.errors)

    def finish(self, far: bool) -> list[Row]:
        env, gw, site, size = self.env, self.gw, self.site, self.size
        try:
            if not self.loop.note:
                self._webhook()
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
            if not self.loop.note:
                self._over_http1()
        except RuntimeError as exc:
            self.loop.note = self.loop.note or str(exc)[:200]
        finally:
            gw.stop()
            if env.sink.delay_ms:
                env.sink.restart(0)
        rows = (self.loop, self.templated, self.far_row, self.probe_row, self.http1_row)
        return [r for r in rows if r.rates or r.note]

    def _over_http1(self) -> None:
        """The loopback broadcast again with HTTP/2 off: the sink offers h2 (as FCM, Mozilla
        and Apple do), so the plain row runs over HTTP/2 and this one shows HTTP/1.1."""
        gw = self.gw
        gw.stop()
        plain = gw.extra
        gw.extra = plain | {"PUSHGATE_HTTP2": "off"}
        try:
            gw.start()
            name = f"pushgate-http1-{self.size}"
            run_broadcast(self.env, gw, self.site, self.http1_row, self.size, name)
        finally:
            gw.stop()
            gw.extra = plain


POSTGRES_SINGLE = "pushgate_pg"
POSTGRES_WORKERS = "pushgate_pg_workers"
WORKERS = 2  # `pushgate worker` processes in the workers row
# One send worker each: two send processes in all, as the single `serve` has on this 2-core
# machine (one per core), so the two rows put the same encryption processes on the same cores.
SEND_WORKERS_PER_WORKER = 1


class PostgresRow:
    """One row on PostgreSQL for one size: a database of its own on the bench's server,
    filled once, and its gateway (one `serve`, or `serve --no-deliver` + WORKERS workers)
    kept running, so that its runs interleave with the other rows' runs."""

    def __init__(self, env: BenchEnv, size: int, db: BenchPostgres, key: str) -> None:
        self.env, self.size, self.db = env, size, db
        if key == POSTGRES_WORKERS:
            label = f"pushgate (serve --no-deliver + {WORKERS} workers + PostgreSQL)"
        else:
            label = "pushgate end to end (serve + PostgreSQL + admin API)"
        self.row = Row(key, label, size)
        self.database = f"bench_{key}_{size}"
        self.site = create_site_in(db.create_database(self.database))
        fill_store(env, self.site, size)
        db.sql("VACUUM ANALYZE", self.database)  # as after any bulk load
        db.sql("CHECKPOINT")  # the fill's dirty pages are written now, not during a run
        if key == POSTGRES_WORKERS:
            self.gw: Gateway = WorkersGateway(env, self.site, WORKERS, SEND_WORKERS_PER_WORKER)
        else:
            self.gw = Gateway(env, self.site)
        self.gw.start()

    def run_once(self, run: int) -> None:
        if self.row.note:  # an earlier run failed
            return
        name = f"{self.row.key}-{self.size}-{run}"
        try:
            run_broadcast(self.env, self.gw, self.site, self.row, self.size, name, db=self.db)
        except RuntimeError as exc:
            self.row.note = str(exc)[:200]
            return
        self.row.runs_detail[-1]["db_vacuum_per_1k"] = self._vacuum() / self.size * 1000

    def _vacuum(self) -> float:
        """The server's CPU seconds for the VACUUM a broadcast leaves to do (its outcome
        updates leave a dead row version per message): part of what a message costs, run
        now so that autovacuum does not do it during another row's broadcast. The ANALYZE
        that autovacuum would add samples a fixed number of rows, so it is not counted."""
        before = self.db.cpu_seconds()
        self.db.sql("VACUUM", self.database)
        spent = self.db.cpu_seconds() - before
        self.db.sql("ANALYZE", self.database)
        return spent

    def finish(self) -> list[Row]:
        self.gw.stop()
        return [self.row] if self.row.rates or self.row.note else []
