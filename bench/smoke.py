"""A small run of the whole benchmark for the test suite, so the bench cannot rot.

`run_smoke()` runs every row on 1,000 subscribers, once, on free ports, into its own folder
(not bench/out/latest.md). It checks nothing about speed, only that every row ran and that
every sample decrypted: the caller asserts on `result["ok"]` and reads `result["problems"]`.
The slow-service row costs a few seconds, not its 20 s: it stops at the healthy part.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from bench import report
from bench.config import OUT_DIR, PAYLOAD, QUICK_SIZE, templated_title
from bench.correctness import check_sample, check_sample_each, exact, title_per_subscriber
from bench.env import ports_free
from bench.keys import KeySet, one_record
from bench.suite import Options, run
from pushgate.webpush.encryption import encrypt

PORT_SPAN = 10  # the sink uses BASE..BASE+4 and BASE+9 (bench.env.sink_ports)
FIRST_BASE_PORT = 19400


def free_base_port(start: int = FIRST_BASE_PORT, tries: int = 50) -> int:
    for base in range(start, start + tries * PORT_SPAN, PORT_SPAN):
        if ports_free(base):
            return base
    raise RuntimeError("no free span of loopback ports for the sink")


def wrong_is_caught() -> bool:
    """The correctness pass itself: a good body passes, a body with one flipped bit fails."""
    keys = KeySet(b"".join(one_record() for _ in range(2)))
    p256dh, auth = keys.public_b64(0)
    good = encrypt(PAYLOAD, p256dh, auth)
    bad = good[:-1] + bytes([good[-1] ^ 1])
    passes = check_sample({0: [good], 1: [good]}, [0], keys, exact(PAYLOAD)).ok
    fails = not check_sample({0: [bad]}, [0], keys, exact(PAYLOAD)).ok
    missing = not check_sample({}, [0, 1], keys, exact(PAYLOAD)).ok
    return passes and fails and missing and _other_name_is_caught(keys)


def _other_name_is_caught(keys: KeySet) -> bool:
    """Issue #11: a templated title passes only with the subscriber's own name in it."""
    per_subscriber = title_per_subscriber(templated_title)

    def body(index: int, title: str) -> bytes:
        p256dh, auth = keys.public_b64(index)
        return encrypt(json.dumps({"notification": {"title": title}}).encode(), p256dh, auth)

    own = {i: [body(i, templated_title(i))] for i in (0, 1)}
    swapped = {i: [body(i, templated_title(1 - i))] for i in (0, 1)}
    passes = check_sample_each(own, [0, 1], keys, per_subscriber).ok
    return passes and not check_sample_each(swapped, [0, 1], keys, per_subscriber).ok


def run_smoke(out_dir: Path | None = None, size: int = QUICK_SIZE) -> dict[str, Any]:
    """Run every row once on `size` subscribers; return what ran and what went wrong."""
    started = time.monotonic()
    opts = Options(
        sizes=[size],
        runs=1,
        base_port=free_base_port(),
        out_dir=out_dir or OUT_DIR / "smoke",
        quick=True,
        ceiling=False,  # wrk and h2load add seconds and prove nothing about rot
        log=lambda line: None,
    )
    outcome = run(opts)
    problems = [
        f"{row.key}: {row.note or row.correctness()}"
        for row in outcome.rows
        if row.wrong or not row.rates
    ]
    if not wrong_is_caught():
        problems.append("correctness pass: a corrupted or missing body was not caught")
    expected = set(opts.rows)
    if "pushgate" in opts.rows:  # its templated, far, probe and slow-service rows too
        expected |= {"pushgate_templated", "pushgate_far", "pushgate_probe", "pushgate_slow"}
        expected |= {"pushgate_http1"}
    missing = expected - {row.key for row in outcome.rows}
    problems += [f"{key}: no row" for key in sorted(missing)]
    return {
        "ok": not problems,
        "problems": problems,
        "rows": [
            {
                "key": r.key,
                "size": r.size,
                "rate": r.rate,
                "correct": not r.wrong,
                "note": r.note,
                "figures": r.figures,
            }
            for r in outcome.rows
        ],
        "markdown": report.render(outcome.rows, outcome.ceilings, "bench.smoke.run_smoke()"),
        "seconds": time.monotonic() - started,
    }
