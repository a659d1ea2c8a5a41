"""The benchmark must keep running: every row once on 1,000 subscribers, every sample decrypts
(the rows on PostgreSQL of issue #10 too, with their database CPU and targets; issue #11's
templated row, each sampled title carrying its subscriber's own name, and the webhook calls'
latency); the audience section (issue #9) on 1,500 gives all its figures.

Speed is not asserted here (that is bench/'s job, `make bench`); only that each row, pushgate's
end-to-end rows against nginx over TLS included (the one with a push service that answers only
after 20 s too), ran and delivered what it should.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bench import audience_report
from bench.audience_rows import COUNT_CALLS
from bench.smoke import free_base_port, run_smoke, wrong_is_caught
from bench.suite import POSTGRES_ROWS, Options, run


def test_benchmark_smoke_run_completes_with_correct_samples(tmp_path: Path) -> None:
    result = run_smoke(out_dir=tmp_path)
    assert result["ok"], "\n".join(result["problems"])
    assert len(result["rows"]) >= 6
    slow = next(row for row in result["rows"] if row["key"] == "pushgate_slow")
    assert slow["correct"] and slow["rate"]
    for key in POSTGRES_ROWS:
        row = next(row for row in result["rows"] if row["key"] == key)
        assert row["correct"] and row["rate"], row
    targets = [line for line in result["markdown"].splitlines() if "PostgreSQL" in line]
    assert any("of SQLite" in line for line in targets)
    measured = [line for line in targets if "PostgreSQL core feeds" in line]
    assert len(measured) == len(POSTGRES_ROWS)
    assert not any(line.endswith("not measured |") for line in measured), measured
    _assert_templates_and_webhooks(result)


def _assert_templates_and_webhooks(result: dict[str, Any]) -> None:
    """Issue #11: the templated row ran, every sampled subscriber decrypted a title with its
    own name (the row's sample check), and the webhook calls gave their latency."""
    templated = next(row for row in result["rows"] if row["key"] == "pushgate_templated")
    assert templated["correct"] and templated["rate"], templated
    figures = templated["figures"]
    assert figures["webhook_p99_ms"] > 0 and figures["webhook_errors"] == 0, figures
    lines = result["markdown"].splitlines()
    row_line = next(line for line in lines if "title templated per subscriber" in line)
    assert "of the plain broadcast" in row_line
    assert re.search(r"webhook: 50 sequential signed calls: p50 [\d.]+ ms", row_line), row_line
    for target in ("templated title keeps", "webhook call answers"):
        line = next(line for line in lines if line.startswith(f"| {target}"))
        assert not line.endswith("not measured |"), line
    webhook = next(line for line in lines if line.startswith("| webhook call answers"))
    assert re.search(r"\| [\d.]+ ms \(p50 [\d.]+ ms\) \|", webhook), webhook


def test_benchmark_correctness_pass_catches_a_wrong_body() -> None:
    assert wrong_is_caught()


AUDIENCE_SMOKE_SIZE = 1_500


def test_audience_section_smoke_run_gives_every_figure(tmp_path: Path) -> None:
    opts = Options(
        sizes=[],
        rows=(),
        base_port=free_base_port(),
        out_dir=tmp_path,
        ceiling=False,
        log=lambda line: None,
        audience_sizes=[AUDIENCE_SMOKE_SIZE],
        deliver_local=True,
        runs=2,  # two pairs: the second runs segment-first
    )
    (result,) = run(opts).audience
    assert not result.problems, result.problems
    assert result.count > 0 and len(result.count_ms) == COUNT_CALLS
    assert [s.audience for s in result.sends] == ["all", "segment", "segment", "all"]
    assert len(result.pairs()) == len(result.shares()) == 2
    for every, segment in result.pairs():
        assert segment.messages == result.segment_count > 0 and segment.cut is None
        assert every.cut == result.segment_count <= every.messages <= AUDIENCE_SMOKE_SIZE
        assert segment.first_msg_ms is not None
    lines = audience_report.render([result]).splitlines()
    assert sum(line.startswith("| run ") for line in lines) == 4
    assert any("(median of 2 interleaved pairs)" in line for line in lines)
    assert result.local is not None and result.local.peak_rss > 0
    assert result.local.delivered == AUDIENCE_SMOKE_SIZE
    verdicts = [target.met for target in audience_report.targets(result)]
    assert None not in verdicts  # every target measured (met or not is bench's business)
