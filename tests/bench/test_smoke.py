"""The benchmark must keep running: every row once on 1,000 subscribers, every sample decrypts.

Speed is not asserted here (that is bench/'s job, `make bench`); only that each row, pushgate's
end-to-end rows against nginx over TLS included (the one with a push service that answers only
after 20 s too), ran and delivered what it should.
"""

from __future__ import annotations

from pathlib import Path

from bench.smoke import run_smoke, wrong_is_caught


def test_benchmark_smoke_run_completes_with_correct_samples(tmp_path: Path) -> None:
    result = run_smoke(out_dir=tmp_path)
    assert result["ok"], "\n".join(result["problems"])
    assert len(result["rows"]) >= 6
    slow = next(row for row in result["rows"] if row["key"] == "pushgate_slow")
    assert slow["correct"] and slow["rate"]


def test_benchmark_correctness_pass_catches_a_wrong_body() -> None:
    assert wrong_is_caught()
