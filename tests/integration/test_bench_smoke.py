"""`make bench` in its quick mode: it runs, and writes the figures issue 7 names.

Timings are not checked here (the machines are shared and noisy; docs/benchmarks.md has a real
run); the AWS call counts are exact, so they are.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RATIOS = ("cold_start_ratio", "cpu_100_ratio", "throughput_ratio")


def test_the_quick_bench_writes_every_figure_and_the_exact_aws_calls(tmp_path: Path) -> None:
    # Given a quick run of the benchmarks, as `make bench BENCH_JSON=...` runs them
    output = tmp_path / "bench.json"
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]

    # Then the JSON holds exactly the keys
    figures = json.loads(output.read_text(encoding="utf-8"))
    assert set(figures) == {*RATIOS, "aws_calls", "asset_bytes"}
    for name in RATIOS:
        assert isinstance(figures[name], float)
        assert figures[name] > 0
    assert isinstance(figures["asset_bytes"], int)
    assert figures["asset_bytes"] > 0

    # And a webhook of N records costs ceil(N/25) writes and no reads
    assert figures["aws_calls"] == {
        "1": {"write": 1, "read": 0},
        "100": {"write": 4, "read": 0},
        "1000": {"write": 40, "read": 0},
    }

    # And the table is printed, one row per figure
    for name in (*RATIOS, "aws_calls", "asset_bytes"):
        assert f"| {name} |" in completed.stdout
    # With the cold start of the libraries alone (the stack child answered too)
    assert "the floor after importing Powertools and pydantic alone: " in completed.stdout
    # And the throughput's receivers took turns (the quick run: one round)
    assert "medians of 1 alternating round of 1 s to each" in completed.stdout


def test_the_bench_builds_the_asset_without_importing_cdk() -> None:
    # aws_cdk starts node (jsii) at import: seconds the bench does not need to build the Lambda asset
    code = "import sys, bench.__main__; print(sorted({'aws_cdk', 'jsii'} & set(sys.modules)))"
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert completed.stdout.strip() == "[]"
