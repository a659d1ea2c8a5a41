"""`python -m bench`: measure pushgate's fan-out against its peers and print one table."""

from __future__ import annotations

import argparse
import shlex
import sys
import time

from bench import report
from bench.config import DEFAULT_SIZES, MILLION, OUT_DIR, QUICK_SIZE, SLOW_DELAY_S
from bench.suite import ALL_ROWS, Options, run

_START = time.monotonic()


def _log(line: str) -> None:
    print(f"{time.monotonic() - _START:7.1f}s  {line}", file=sys.stderr, flush=True)


def _sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=list(DEFAULT_SIZES),
        help="audience sizes, comma-separated (default 10000,100000)",
    )
    parser.add_argument("--million", action="store_true", help="add a 1,000,000 audience")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {QUICK_SIZE:,} subscribers, one run per row",
    )
    parser.add_argument(
        "--runs",
        type=int,
        help="runs per row, interleaved (default 3; pywebpush_sync once above 10,000)",
    )
    parser.add_argument(
        "--rows",
        default=",".join(ALL_ROWS),
        help=f"rows to run, comma-separated from {','.join(ALL_ROWS)}",
    )
    parser.add_argument("--no-far", action="store_true", help="skip the 50 ms sink run")
    parser.add_argument(
        "--no-slow",
        action="store_true",
        help=f"skip the run with one push service slow (+{SLOW_DELAY_S} s)",
    )
    parser.add_argument(
        "--peer-max-size",
        type=int,
        default=100_000,
        help="run peers only on audiences up to this size",
    )
    parser.add_argument(
        "--base-port",
        type=int,
        default=18440,
        help="first sink port; BASE..BASE+4 and BASE+9 must be free",
    )
    args = parser.parse_args(argv)
    sizes = [QUICK_SIZE] if args.quick else sorted(set(args.sizes))
    if args.million and MILLION not in sizes:
        sizes.append(MILLION)
    rows = tuple(r for r in args.rows.split(",") if r)
    unknown = set(rows) - set(ALL_ROWS)
    if unknown:
        parser.error(f"unknown rows: {', '.join(sorted(unknown))}")
    return Options(
        sizes=sizes,
        runs=1 if args.quick else args.runs,
        rows=rows,
        far=not args.no_far,
        slow=not args.no_slow,
        peer_max_size=args.peer_max_size,
        base_port=args.base_port,
        quick=args.quick,
        log=_log,
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    opts = parse(argv)
    outcome = run(opts)
    command = shlex.join([".venv/bin/python", "-m", "bench", *argv])
    text = report.render(outcome.rows, outcome.ceilings, command)
    name = "quick" if opts.quick else "latest"  # a smoke run never replaces the real table
    report.write(text, OUT_DIR / f"{name}.md")
    report.write_json(outcome.rows, outcome.ceilings, OUT_DIR / f"{name}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
