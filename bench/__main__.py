"""`python -m bench`: measure pushgate's fan-out against its peers and print one table."""

from __future__ import annotations

import argparse
import shlex
import sys
import time

from bench import audience_report, report
from bench.config import DEFAULT_SIZES, MILLION, OUT_DIR, QUICK_SIZE, SLOW_DELAY_S
from bench.suite import ALL_ROWS, DEFAULT_ROWS, POSTGRES_ROWS, Options, run

_START = time.monotonic()


def _log(line: str) -> None:
    print(f"{time.monotonic() - _START:7.1f}s  {line}", file=sys.stderr, flush=True)


def _sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def _audience_sizes(audience: bool, quick: bool, given: list[int]) -> list[int]:
    if not audience:
        return []
    return [QUICK_SIZE] if quick else given or [MILLION]


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--sizes",
        type=_sizes,
        help="audience sizes, comma-separated (default 10000,20000,100000; with --audience alone, "
        "1000000)",
    )
    parser.add_argument(
        "--audience",
        action="store_true",
        help="issue #9's section (counts, segment vs all, local-time campaign); alone unless "
        "--rows is given too",
    )
    parser.add_argument(
        "--deliver-local",
        action="store_true",
        help="with --audience: also deliver the local-time campaign (test clock moved a day on)",
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
        help="runs per row, interleaved (default 3; pywebpush_sync once above 10,000); with "
        "--audience, pairs of broadcasts (default 3)",
    )
    parser.add_argument(
        "--rows",
        help=f"rows to run, comma-separated from {','.join(ALL_ROWS)} "
        f"(default {','.join(DEFAULT_ROWS)})",
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help=f"add the rows on PostgreSQL ({','.join(POSTGRES_ROWS)}) on a server of their own",
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
    given = sorted(set(args.sizes or []))
    sizes = [QUICK_SIZE] if args.quick else given or list(DEFAULT_SIZES)
    if args.million and MILLION not in sizes:
        sizes.append(MILLION)
    rows_text = ",".join(DEFAULT_ROWS) if args.rows is None and not args.audience else args.rows
    rows = tuple(r for r in (rows_text or "").split(",") if r)
    if args.postgres:
        rows += tuple(r for r in POSTGRES_ROWS if r not in rows)
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
        audience_sizes=_audience_sizes(args.audience, args.quick, given),
        deliver_local=args.deliver_local,
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    opts = parse(argv)
    outcome = run(opts)
    command = shlex.join([".venv/bin/python", "-m", "bench", *argv])
    text = report.render(outcome.rows, outcome.ceilings, command)
    if outcome.audience:
        if not outcome.rows:  # the section alone: the table's heading, not its empty rows
            text = text.split("\n| subscribers |", 1)[0].rstrip() + "\n"
        text += "\n" + audience_report.render(outcome.audience)
    name = "quick" if opts.quick else "latest"  # a smoke run never replaces the real table
    report.write(text, OUT_DIR / f"{name}.md")
    report.write_json(outcome.rows, outcome.ceilings, OUT_DIR / f"{name}.json")
    if outcome.audience:
        audience_report.add_to_json(outcome.audience, OUT_DIR / f"{name}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
