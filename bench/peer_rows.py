"""Run each peer as its own process on the same subscriptions, and check what the sink got."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config import BENCH_DIR, CONCURRENCY, PAYLOAD, PUSH_TTL_SECONDS, VENV_PYTHON
from bench.correctness import SampleCheck, check_sample, exact
from bench.env import BenchEnv
from bench.procstat import Monitor
from bench.results import Row

MIN_RATE_FOR_TIMEOUT = 100  # msgs/s: a peer slower than this is stopped, not waited for
MIN_TIMEOUT_S = 60


@dataclass(frozen=True)
class PeerSpec:
    key: str
    label: str
    argv: list[str]
    network: bool = True


def peer_specs(env: BenchEnv, subs: Path) -> list[PeerSpec]:
    py = [str(VENV_PYTHON), "-m"]
    common = ["--subs", str(subs), "--vapid", str(env.vapid_file)]
    common += ["--payload", str(env.payload_file), "--ca", str(env.tls.ca_cert)]
    common += ["--concurrency", str(CONCURRENCY), "--ttl", str(PUSH_TTL_SECONDS)]
    # Node trusts the bench CA through NODE_EXTRA_CA_CERTS (env.client_env), as a sender trusts
    # the system's CAs: its agent keeps Node's defaults (see node_send.js).
    node = ["node", str(BENCH_DIR / "peers" / "node_send.js"), str(subs), str(env.vapid_file)]
    node += [str(env.payload_file), str(CONCURRENCY), str(PUSH_TTL_SECONDS)]
    enc = [*py, "bench.peers.encryption_only", "--subs", str(subs)]
    enc += ["--payload", str(env.payload_file)]
    return [
        PeerSpec("node", "Node web-push, 100 concurrent, keep-alive Agent", node),
        PeerSpec(
            "pywebpush_async",
            "pywebpush webpush_async, shared aiohttp, 100 conc.",
            [*py, "bench.peers.pywebpush_async", *common],
        ),
        PeerSpec(
            "pywebpush_sync",
            "pywebpush webpush() loop, shared requests.Session",
            [*py, "bench.peers.pywebpush_sync", *common],
        ),
        PeerSpec(
            "enc1",
            "encryption only (pushgate encrypt), 1 process",
            [*enc, "--processes", "1"],
            network=False,
        ),
        PeerSpec(
            "enc2",
            "encryption only (pushgate encrypt), 2 processes",
            [*enc, "--processes", "2"],
            network=False,
        ),
    ]


@dataclass(frozen=True)
class PeerRun:
    result: dict[str, Any]
    cpu_seconds: float  # the peer and its children (encryption's worker processes)
    peak_rss: int  # bytes, summed over the peer's processes (peak of the sum)
    peak_pss: int


def _run_process(argv: list[str], timeout: float, log_dir: Path, env: dict[str, str]) -> PeerRun:
    """Run one peer to the end (or kill it at `timeout`) and read its rusage with wait4."""
    out_path, err_path = log_dir / "peer.out", log_dir / "peer.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
    deadline = time.monotonic() + timeout
    # RSS from /proc while it runs: wait4's ru_maxrss also counts the bench process's own
    # pages that the child had between fork and exec.
    with Monitor(proc.pid) as monitor:
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise RuntimeError(f"{argv[:3]} ran past {timeout:.0f} s")
            time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed: {err_path.read_text()[-500:]}")
    result = json.loads(out_path.read_text().strip().splitlines()[-1])
    return PeerRun(result, usage.ru_utime + usage.ru_stime, monitor.peak_rss, monitor.peak_pss)


class PeerRow:
    """One peer's row, filled a run at a time (runs of all rows are interleaved)."""

    def __init__(self, env: BenchEnv, spec: PeerSpec, size: int) -> None:
        self.env, self.spec, self.size = env, spec, size
        self.row = Row(spec.key, spec.label, size)
        self.cpu_total = 0.0
        self.failed = False
        self.main_cpu_ms: list[float] = []  # the peer's main thread, CPU ms per message
        self.waited: list[float] = []  # share of the send time its main thread waited for a CPU

    def run_once(self, run: int) -> None:
        if self.failed:
            return
        env, spec, size, row = self.env, self.spec, self.size, self.row
        env.sink.begin_row()
        env.samples.take()
        timeout = max(MIN_TIMEOUT_S, size / MIN_RATE_FOR_TIMEOUT)
        try:
            peer = _run_process(spec.argv, timeout, env.out_dir, env.client_env())
        except RuntimeError as exc:
            row.note, self.failed = str(exc)[:200], True
            return
        result = peer.result
        self.cpu_total += peer.cpu_seconds
        row.peak_rss = max(row.peak_rss or 0, peer.peak_rss)
        row.peak_pss = max(row.peak_pss or 0, peer.peak_pss)
        log = env.sink.end_row(f"{spec.key}-{size}-{run}")
        row.rates.append(result["sent"] / result["seconds"])
        self._main_thread(result)
        if result["failed"]:
            row.note = f"{result['failed']} failed: {result['errors'][:1]}"
        if spec.network:
            row.lost += size - log.created
            check = check_sample(
                env.samples.take(), env.sample_indices(size), env.keys, exact(PAYLOAD)
            )
            row.sample = _worst(row, check)
        if row.rates:
            row.cpu_per_1k = self.cpu_total / len(row.rates) / size * 1000
        time.sleep(0.2)

    def _main_thread(self, result: dict[str, Any]) -> None:
        """Note the main thread's CPU per message and its wait for a CPU, run by run: every
        peer's sends are CPU-bound on its main thread, so a low rate with a long wait is a
        machine busy with other work, not a slower library."""
        cpu, wait = result.get("main_cpu_s"), result.get("main_wait_s")
        if cpu is None or wait is None or not result["sent"] or not result["seconds"]:
            return
        self.main_cpu_ms.append(cpu / result["sent"] * 1000)
        self.waited.append(wait / result["seconds"])
        shares = " / ".join(f"{w:.0%}" for w in self.waited)
        self.row.extras["main thread"] = (
            f"{statistics.median(self.main_cpu_ms):.2f} ms CPU per msg (median); "
            f"waited for a CPU {shares} of the send time"
        )


def _worst(row: Row, new: SampleCheck) -> SampleCheck:
    if row.sample is None or (row.sample.ok and not new.ok):
        return new
    return row.sample
