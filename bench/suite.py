"""The whole run: set up the sink, measure the ceiling, every peer and pushgate, per size."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench import ceiling
from bench.audience_rows import DEFAULT_RUNS as DEFAULT_AUDIENCE_RUNS
from bench.audience_rows import AudienceResult, run_audience
from bench.config import BENCH_DIR, OUT_DIR
from bench.env import BenchEnv, bench_env
from bench.gateway import free_port
from bench.peer_rows import PeerRow, peer_specs
from bench.postgres import BenchPostgres
from bench.pushgate_row import POSTGRES_SINGLE, POSTGRES_WORKERS, PostgresRow, PushgateRows
from bench.results import Row
from bench.slow_row import SlowServiceRow
from bench.subscribe_rate import ROW_KEY as SUBSCRIBE_ROW
from bench.subscribe_rate import suite_row as subscribe_row

# What `make bench` runs; `--postgres` adds the rows on PostgreSQL (issue #10).
DEFAULT_ROWS = (
    "node",
    "pywebpush_async",
    "pywebpush_sync",
    "enc1",
    "enc2",
    "pushgate",
    SUBSCRIBE_ROW,  # issue #14: subscribes/s, 50 clients (bench/subscribe_rate.py)
)
POSTGRES_ROWS = (POSTGRES_SINGLE, POSTGRES_WORKERS)
ALL_ROWS = DEFAULT_ROWS + POSTGRES_ROWS
NPM_TIMEOUT_S = 300


@dataclass
class Options:
    sizes: list[int]
    runs: int | None = None  # None: 3 up to 10,000 subscribers, 1 above
    rows: tuple[str, ...] = ALL_ROWS
    far: bool = True
    slow: bool = True  # the row with one push service answering only after SLOW_DELAY_S
    peer_max_size: int = 100_000  # peers are not run on larger audiences
    base_port: int = 18440
    out_dir: Path = OUT_DIR
    ceiling: bool = True
    quick: bool = False  # shorter sink-ceiling measurements
    log: Callable[[str], None] = print
    audience_sizes: list[int] = field(default_factory=list)  # issue #9's section, per size
    deliver_local: bool = False  # the section's local-time campaign is delivered too


@dataclass
class Outcome:
    rows: list[Row] = field(default_factory=list)
    ceilings: list[ceiling.Ceiling] = field(default_factory=list)
    audience: list[AudienceResult] = field(default_factory=list)


@contextmanager
def postgres_server(opts: Options) -> Iterator[BenchPostgres | None]:
    """The bench's PostgreSQL server when a row on PostgreSQL is to run, else None."""
    if not set(POSTGRES_ROWS) & set(opts.rows) or not opts.sizes:
        yield None
        return
    opts.log("starting PostgreSQL (durable defaults) ...")
    db = BenchPostgres(free_port(), profile_to=opts.out_dir / "pg_statements.txt")
    db.start()
    try:
        yield db
    finally:
        db.stop()


# The slowest peer, which no target compares against, runs once on large audiences.
ONCE_ABOVE_10K = ("pywebpush_sync",)


def runs_for(size: int, opts: Options, key: str = "") -> int:
    if opts.runs is not None:
        return opts.runs
    return 1 if size > 10_000 and key in ONCE_ABOVE_10K else 3


def ensure_node_webpush(log: Callable[[str], None]) -> str | None:
    """Install Node's web-push into bench/node_modules (git-ignored) if missing; None if ok."""
    if shutil.which("node") is None:
        return "node not installed (Debian: nodejs, npm)"
    if (BENCH_DIR / "node_modules" / "web-push").is_dir():
        return None
    log("installing web-push from npm into bench/node_modules ...")
    done = subprocess.run(
        ["npm", "install", "--prefix", str(BENCH_DIR), "--no-audit", "--no-fund"],
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT_S,
    )
    return None if done.returncode == 0 else f"npm install failed: {done.stderr[-200:]}"


def _measure_ceiling(env: BenchEnv, out: Outcome, quick: bool) -> None:
    url = f"https://127.0.0.1:{env.ports[0]}/push/ceiling"
    env.sink.begin_row()
    seconds, requests = (1, 5_000) if quick else (ceiling.WRK_SECONDS, ceiling.H2LOAD_REQUESTS)
    out.ceilings.append(ceiling.wrk_ceiling(url, env.out_dir, seconds))
    out.ceilings.append(ceiling.h2load_ceiling(url, env.out_dir, requests))
    env.sink.end_row("ceiling")


def _start_postgres_rows(
    env: BenchEnv, size: int, opts: Options, db: BenchPostgres | None, into: list[PostgresRow]
) -> None:
    """Fill and start the rows on PostgreSQL that were asked for, each appended to `into` as
    soon as it runs (so that a failure in the next one still stops it)."""
    for key in POSTGRES_ROWS:
        if db is not None and key in opts.rows:
            opts.log(f"[{size:,}] filling a PostgreSQL database for {key}, starting it ...")
            into.append(PostgresRow(env, size, db, key))


def _interleaved(
    env: BenchEnv, size: int, opts: Options, node_problem: str | None, db: BenchPostgres | None
) -> list[Row]:
    """Every row of one size, their runs interleaved (round 1 of each row, then round 2 ...):
    the machine's speed drifts over minutes, and a ratio of two rows measured far apart in
    time would carry that drift."""
    peers: list[PeerRow] = []
    rows: list[Row] = []
    if size <= opts.peer_max_size:
        for spec in peer_specs(env, env.subscriptions_file(size)):
            if spec.key not in opts.rows:
                continue
            if spec.key == "node" and node_problem:
                rows.append(Row(spec.key, spec.label, size, note=node_problem))
            else:
                peers.append(PeerRow(env, spec, size))
    gateway = slow = None
    on_postgres: list[PostgresRow] = []
    rounds = max([runs_for(size, opts, p.spec.key) for p in peers] + [runs_for(size, opts)])
    try:
        if "pushgate" in opts.rows:
            opts.log(f"[{size:,}] filling pushgate's store and starting it ...")
            gateway = PushgateRows(env, size)
            slow = SlowServiceRow(env, size) if opts.slow else None
        _start_postgres_rows(env, size, opts, db, on_postgres)
        for run in range(rounds):
            for peer in peers:
                if run < runs_for(size, opts, peer.spec.key):
                    opts.log(f"[{size:,}] run {run + 1}: {peer.spec.label} ...")
                    peer.run_once(run)
            if gateway is not None:
                opts.log(f"[{size:,}] run {run + 1}: pushgate end to end ...")
                gateway.run_once(run)
            for pg_row in on_postgres:
                opts.log(f"[{size:,}] run {run + 1}: {pg_row.row.label} ...")
                pg_row.run_once(run)
            if slow is not None:
                opts.log(f"[{size:,}] run {run + 1}: {slow.row.label} ...")
                slow.run_once(run)
    finally:
        on_pg = [row for pg_row in on_postgres for row in pg_row.finish()]
        pushgate_rows = gateway.finish(opts.far) if gateway is not None else []
        pushgate_rows[1:1] = on_pg  # beside the SQLite row they are compared with
    if slow is not None and (slow.row.rates or slow.row.note):
        pushgate_rows.append(slow.row)
    for row in [p.row for p in peers] + pushgate_rows:
        opts.log(
            f"[{size:,}]   {row.label}: {row.rate or 0:,.0f} msgs/s, {row.correctness()} {row.note}"
        )
    return rows + [p.row for p in peers] + pushgate_rows


def run(opts: Options) -> Outcome:
    out = Outcome()
    node_problem = ensure_node_webpush(opts.log) if "node" in opts.rows else None
    table = bool(opts.rows and opts.sizes)
    biggest = max(opts.sizes + opts.audience_sizes)
    with bench_env(opts.out_dir, opts.base_port, biggest) as env, postgres_server(opts) as db:
        if opts.ceiling and table:
            opts.log("measuring the sink's own ceiling ...")
            _measure_ceiling(env, out, opts.quick)
        for size in opts.sizes if table else []:
            out.rows += _interleaved(env, size, opts, node_problem, db)
        if table and SUBSCRIBE_ROW in opts.rows:
            runs = opts.runs or 3
            out.rows.append(subscribe_row(opts.out_dir, runs, opts.quick, opts.log))
        for size in opts.audience_sizes:
            runs = opts.runs or DEFAULT_AUDIENCE_RUNS
            found = run_audience(env, size, opts.log, runs=runs, deliver_local=opts.deliver_local)
            out.audience.append(found)
    return out
