"""The one table: every row's msgs/s and ratios, the sink's ceiling, and the issue's targets."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.ceiling import Ceiling
from bench.config import MILLION
from bench.results import Row

MB = 1024 * 1024
TARGET_SIZE = 100_000
RATIO_SIZES = (20_000, 100_000)  # issue #14: the ratios below hold at both
NODE_TIMES = 8.0  # issue #14: pushgate end to end ≥ 8× Node web-push
PYWEBPUSH_ASYNC_TIMES = 4.5  # issue #14: and ≥ 4.5× pywebpush async
ENCRYPTION_SHARE = 0.65  # issue #14: and ≥ 65 % of the 2-process encryption-only ceiling
FAR_SIZE = 10_000  # issue #14: a short broadcast to a sink 50 ms away keeps ≥ 80 %
SUBSCRIBE_RATE = 3_000  # issue #14: subscribes/s with 50 concurrent clients on SQLite
SUBSCRIBE_KEY = "subscribe_rate"  # bench/subscribe_rate.py's row
POSTGRES_KEYS = ("pushgate_pg", "pushgate_pg_workers")
POSTGRES_SHARE = 0.85  # issue #10: one `serve` on PostgreSQL keeps this much of SQLite's rate
POSTGRES_CORE_RATE = 50_000  # issue #10: msgs/s one PostgreSQL core should feed
TEMPLATED_SHARE = 0.7  # issue #11: a title templated per subscriber keeps this much of plain
WEBHOOK_P99_MS = 50  # issue #11: a webhook call answers within this


@dataclass(frozen=True)
class Target:
    text: str
    value: str
    met: bool | None  # None: not measured in this run

    def verdict(self) -> str:
        return {True: "met", False: "MISSED", None: "not measured"}[self.met]


def _fmt_rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:,.0f}"


def _ratio(row: Row, base: Row | None, percent: bool = False) -> str:
    if row.rate is None or base is None or base.rate is None or base is row:
        return ""
    if base.wrong:
        return "(base WRONG)"
    value = row.rate / base.rate
    return f"{value:.0%}" if percent else f"{value:.2f}×"


def _find(rows: Sequence[Row], key: str, size: int) -> Row | None:
    return next((r for r in rows if r.key == key and r.size == size), None)


def _notes(row: Row, rows: Sequence[Row]) -> str:
    parts = [_healthy_part(row, rows)] if row.key == "pushgate_slow" and row.rate else []
    parts += [_on_postgres(row, rows)] if row.key in POSTGRES_KEYS and row.rate else []
    parts += [_templated(row, rows)] if row.key == "pushgate_templated" and row.rate else []
    parts += [row.note] if row.note else []
    if row.runs_detail:
        d = sorted(row.runs_detail, key=lambda x: x["seconds"])[len(row.runs_detail) // 2]
        parts.append(f"API {d['api_ms']:.0f} ms, 1st msg +{d['first_msg_ms']:.0f} ms")
    parts.extend(f"{k}: {v}" for k, v in row.extras.items())
    return "; ".join(parts)


def _healthy_part(row: Row, rows: Sequence[Row]) -> str:
    """The slow-service row against the plain broadcast of the same size and run."""
    share = _ratio(row, _find(rows, "pushgate", row.size), percent=True) or "-"
    rate = _fmt_rate(row.rate)
    return f"healthy part: {rate} msgs/s = {share} of the same run without the slow service"


def paired_shares(row: Row, base: Row | None) -> list[float]:
    """`row`'s rate over `base`'s, run by run: the two rows' runs made back to back on one
    gateway (issue #11's templated row and the plain one), so each share carries little of
    the machine's drift over minutes."""
    runs = zip(row.rates, base.rates if base else [], strict=False)  # a failed run ends one
    return [mine / theirs for mine, theirs in runs]


def _templated(row: Row, rows: Sequence[Row]) -> str:
    plain = _find(rows, "pushgate", row.size)
    shares = paired_shares(row, plain)
    if not shares:
        return "plain broadcast not measured"
    each = " / ".join(f"{share:.1%}" for share in shares)
    medians = _ratio(row, plain, percent=True)
    return (
        f"{statistics.median(shares):.1%} of the plain broadcast (median of the runs paired "
        f"back to back: {each}; ratio of the medians {medians})"
    )


def db_cpu_per_1k(row: Row) -> tuple[float, float] | None:
    """The PostgreSQL server's CPU seconds per 1,000 messages, medians of the runs: during
    the broadcast, and in the VACUUM after it."""
    during = _median_detail(row, "db_cpu_per_1k")
    if during is None:
        return None
    return during, _median_detail(row, "db_vacuum_per_1k") or 0.0


def _per_core(row: Row) -> tuple[float, str] | None:
    """msgs/s one PostgreSQL core could feed (1000 / CPU s per 1k msgs), and its arithmetic."""
    cpu = db_cpu_per_1k(row)
    if cpu is None or sum(cpu) <= 0:
        return None
    during, vacuum = cpu
    total = during + vacuum
    text = f"1000 / ({during:.4f} + {vacuum:.4f} VACUUM) CPU s per 1k msgs"
    return 1000 / total, text


def _on_postgres(row: Row, rows: Sequence[Row]) -> str:
    """A row on PostgreSQL: its rate against the SQLite row of the same run, and the
    database's CPU per message, turned into what one database core could feed."""
    share = _ratio(row, _find(rows, "pushgate", row.size), percent=True) or "-"
    per_core = _per_core(row)
    if per_core is None:
        return f"{share} of the SQLite row; PostgreSQL CPU not measured"
    rate, text = per_core
    return f"{share} of the SQLite row; PostgreSQL feeds {rate:,.0f} msgs/s per core = {text}"


def _row_line(row: Row, rows: Sequence[Row]) -> str:
    node = _find(rows, "node", row.size)
    pwa = _find(rows, "pywebpush_async", row.size)
    enc2 = _find(rows, "enc2", row.size)
    rss = (
        ""
        if row.peak_rss is None
        else f"{row.peak_rss / MB:,.0f} / {(row.peak_pss or 0) / MB:,.0f}"
    )
    cpu = "" if row.cpu_per_1k is None else f"{row.cpu_per_1k:.2f}"
    cells = [
        f"{row.size:,}" if row.size else "-",
        row.label,
        str(len(row.rates)),
        _fmt_rate(row.rate),
        _ratio(row, node),
        _ratio(row, pwa),
        _ratio(row, enc2, percent=True),
        cpu,
        rss,
        row.correctness(),
        _notes(row, rows),
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| subscribers | row | runs | msgs/s (median) | × Node web-push | × pywebpush async "
    "| % of 2-proc encryption | CPU s / 1k msgs | peak RSS / PSS MB | sample check | notes |\n"
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|"
)


def _ceiling_line(c: Ceiling) -> str:
    rate = _fmt_rate(c.requests_per_s)
    label = f"nginx sink ceiling ({c.tool}, {c.protocol})"
    return f"| - | {label} | 1 | {rate} |  |  |  |  |  | n/a | {c.note} |"


def targets(rows: Sequence[Row]) -> list[Target]:
    sizes = sorted({r.size for r in rows if r.key == "pushgate"})
    size = TARGET_SIZE if TARGET_SIZE in sizes else (max(sizes) if sizes else TARGET_SIZE)
    at = "" if size == TARGET_SIZE else f" (at {size:,}; 100,000 not run)"
    pg = _find(rows, "pushgate", size)
    found = _ratio_targets(rows, sizes)
    far_size = FAR_SIZE if FAR_SIZE in sizes else size
    far_at = f" (at {far_size:,})"
    found.append(
        _vs(
            _find(rows, "pushgate_far", far_size),
            _find(rows, "pushgate", far_size),
            0.8,
            f"50 ms sink keeps ≥ 80 % of loopback{far_at}",
        )
    )
    found.append(
        _vs(
            _find(rows, "pushgate_slow", size),
            pg,
            0.9,
            f"one slow push service keeps ≥ 90 % of healthy msgs/s{at}",
        )
    )
    found.append(_templated_target(_find(rows, "pushgate_templated", size), pg, at))
    found.append(_webhook_target(_find(rows, "pushgate_templated", size)))
    found.extend(_million_targets(rows))
    big = _find(rows, "pushgate", MILLION) or pg
    found.append(_detail_target(big, "api_ms", 100, "POST /api/v1/notifications < 100 ms"))
    found.append(_detail_target(big, "first_msg_ms", 50, "first message ≤ 50 ms after answer"))
    probe = _find(rows, "pushgate_probe", size)
    found.append(
        _detail_target(probe, "probe_p99_ms", 100, "subscribe p99 < 100 ms during broadcast")
    )
    found.append(_subscribe_target(next((r for r in rows if r.key == SUBSCRIBE_KEY), None)))
    return found + _postgres_targets(rows, size, at)


def _ratio_targets(rows: Sequence[Row], sizes: list[int]) -> list[Target]:
    """Issue #14's ratios, at each of RATIO_SIZES run (at the largest size if neither was)."""
    judged = [s for s in RATIO_SIZES if s in sizes] or sizes[-1:] or [TARGET_SIZE]
    found: list[Target] = []
    for size in judged:
        pg, at = _find(rows, "pushgate", size), f" (at {size:,})"
        for key, times, name in (
            ("node", NODE_TIMES, "Node web-push"),
            ("pywebpush_async", PYWEBPUSH_ASYNC_TIMES, "pywebpush async"),
        ):
            found.append(_vs(pg, _find(rows, key, size), times, f"≥ {times}× {name}{at}"))
        text = f"≥ {ENCRYPTION_SHARE * 100:.0f} % of 2-proc encryption{at}"
        found.append(_vs(pg, _find(rows, "enc2", size), ENCRYPTION_SHARE, text))
    return found


def _subscribe_target(row: Row | None) -> Target:
    text = f"≥ {SUBSCRIBE_RATE:,} subscribes/s, 50 clients, SQLite"
    if row is None or row.rate is None:
        return Target(
            text, "-" if row is None else f"no rate: {row.note}", None if row is None else False
        )
    return Target(text, f"{row.rate:,.0f}/s", row.rate >= SUBSCRIBE_RATE)


def _postgres_targets(rows: Sequence[Row], size: int, at: str) -> list[Target]:
    single = _find(rows, "pushgate_pg", size)
    if single is None and _find(rows, "pushgate_pg_workers", size) is None:
        return []  # not asked for (--postgres)
    text = f"one serve on PostgreSQL ≥ {POSTGRES_SHARE:.0%} of SQLite{at}"
    found = [_vs(single, _find(rows, "pushgate", size), POSTGRES_SHARE, text)]
    for key, name in (("pushgate_pg", "one serve"), ("pushgate_pg_workers", "serve + 2 workers")):
        text = f"one PostgreSQL core feeds ≥ {POSTGRES_CORE_RATE:,} msgs/s ({name}){at}"
        found.append(_core_rate(_find(rows, key, size), text))
    return found


def _templated_target(row: Row | None, plain: Row | None, at: str) -> Target:
    """Judged on the median of the paired runs' shares (see `paired_shares`)."""
    text = f"templated title keeps ≥ {TEMPLATED_SHARE * 100:.0f} % of the plain broadcast"
    text += f" (issue #11){at}"
    shares = paired_shares(row, plain) if row is not None else []
    if row is None or plain is None or not shares:
        return Target(text, "-", None)
    share = statistics.median(shares)
    if row.wrong or plain.wrong:
        return Target(text, "void: a row is WRONG", False)
    value = f"{share:.1%} (median of {len(shares)} paired runs)"  # "69.6%", not "70%" missed
    return Target(text, value, share >= TEMPLATED_SHARE)


def _webhook_target(row: Row | None) -> Target:
    text = f"webhook call answers < {WEBHOOK_P99_MS} ms (p99)"
    figures = row.figures if row is not None else {}
    if row is None or "webhook_p99_ms" not in figures:
        return Target(text, "-", None)
    p99, errors = figures["webhook_p99_ms"], int(figures.get("webhook_errors", 0))
    value = f"{p99:.1f} ms (p50 {figures['webhook_p50_ms']:.1f} ms)"
    if errors:
        return Target(f"{text} (at {row.size:,})", f"{value}, {errors} errors", False)
    return Target(f"{text} (at {row.size:,})", value, p99 < WEBHOOK_P99_MS)


def _core_rate(row: Row | None, text: str) -> Target:
    per_core = _per_core(row) if row is not None else None
    if row is None or per_core is None:
        return Target(text, "-", None)
    rate, arithmetic = per_core
    value = f"{rate:,.0f} msgs/s = {arithmetic}"
    if row.wrong:
        return Target(text, f"void: row is WRONG ({value})", False)
    return Target(text, value, rate >= POSTGRES_CORE_RATE)


def _vs(row: Row | None, base: Row | None, factor: float, text: str) -> Target:
    if row is None or base is None or row.rate is None or base.rate is None:
        return Target(text, "-", None)
    if row.wrong or base.wrong:
        return Target(text, "void: a row is WRONG", False)
    ratio = row.rate / base.rate
    return Target(text, f"{ratio:.2f}×" if factor > 1 else f"{ratio:.0%}", ratio >= factor)


def _detail_target(row: Row | None, key: str, limit: float, text: str) -> Target:
    values = [d[key] for d in (row.runs_detail if row else []) if d.get(key) is not None]
    if not values or row is None:
        return Target(text, "-", None)
    if row.wrong:
        return Target(f"{text} (at {row.size:,})", "void: row is WRONG", False)
    worst = max(values)
    return Target(f"{text} (at {row.size:,})", f"{worst:.0f} ms (worst run)", worst < limit)


def _million_targets(rows: Sequence[Row]) -> list[Target]:
    big, mid = _find(rows, "pushgate", MILLION), _find(rows, "pushgate", TARGET_SIZE)
    text_rss = "1,000,000 broadcast completes, peak RSS < 300 MB"
    text_cost = "per-message CPU at 1,000,000 ≈ at 100,000 (≤ 1.1×)"
    if big is None or not big.rates:
        return [Target(text_rss, "-", None), Target(text_cost, "-", None)]
    rss, pss = (big.peak_rss or 0) / MB, (big.peak_pss or 0) / MB
    value = f"RSS {rss:,.0f} MB (PSS {pss:,.0f} MB)"
    found = [Target(text_rss, value, rss < 300 and not big.wrong)]
    if mid is None or not mid.cpu_per_1k or big.cpu_per_1k is None:
        return [*found, Target(text_cost, "-", None)]
    growth = big.cpu_per_1k / mid.cpu_per_1k
    speed_big, speed_mid = _median_detail(big, "speed_us"), _median_detail(mid, "speed_us")
    if not speed_big or not speed_mid:
        return [*found, Target(text_cost, f"{growth:.2f}×", growth <= 1.1)]
    # At equal machine speed: each broadcast's CPU divided by the speed probe around it.
    fair = growth / (speed_big / speed_mid)
    value = (
        f"{fair:.2f}× at equal speed ({growth:.2f}× raw; probe {speed_big:.0f}/{speed_mid:.0f} µs)"
    )
    return [*found, Target(text_cost, value, fair <= 1.1)]


def _median_detail(row: Row, key: str) -> float | None:
    values = sorted(d[key] for d in row.runs_detail if d.get(key))
    return values[len(values) // 2] if values else None


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores, {model}; load average at the end {load}"


def render(rows: Sequence[Row], ceilings: Sequence[Ceiling], command: str) -> str:
    now = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines = [
        f"# pushgate fan-out benchmark — {now}",
        "",
        f"Machine: {machine()}  ",
        f"Command: `{command}`",
        "",
        HEADER,
    ]
    lines += [_ceiling_line(c) for c in ceilings]
    lines += [_row_line(r, rows) for r in rows]
    issues = (
        "#4, #8, #10, #11, #14" if any(r.key in POSTGRES_KEYS for r in rows) else "#4, #8, #11, #14"
    )
    lines += ["", f"| target (issues {issues}) | measured | verdict |", "|---|---|---|"]
    lines += [f"| {t.text} | {t.value} | {t.verdict()} |" for t in targets(rows)]
    return "\n".join(lines) + "\n"


def write_json(rows: Sequence[Row], ceilings: Sequence[Ceiling], path: Path) -> None:
    """Every figure behind the table (per-run details included), for scripts and notes."""
    doc = {
        "machine": machine(),
        "ceilings": [asdict(c) for c in ceilings],
        "rows": [asdict(r) | {"rate": r.rate, "wrong": r.wrong} for r in rows],
        "targets": [asdict(t) | {"verdict": t.verdict()} for t in targets(rows)],
    }
    path.write_text(json.dumps(doc, indent=1, default=str))


def write(text: str, path: Path, echo: Callable[[str], None] = print) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    echo(text)
