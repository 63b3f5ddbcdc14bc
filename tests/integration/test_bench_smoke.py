"""`make bench` in its quick mode: it runs and writes every figure as JSON.

Timings are not checked here (the machines are shared and noisy; docs/benchmarks.md has a full run);
the AWS call counts are exact, so they are.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.__main__ import breaches

ROOT = Path(__file__).resolve().parents[2]
RATIOS = ("cold_start_ratio", "cpu_100_ratio", "throughput_ratio")


def test_the_quick_bench_writes_every_figure_and_the_exact_aws_calls(tmp_path: Path) -> None:
    # Given a quick run of the benchmarks, as `make bench` runs them
    output = tmp_path / "bench.json"
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-3000:]

    # Then the JSON holds every figure, each ratio a positive number
    figures = json.loads(output.read_text(encoding="utf-8"))
    assert set(figures) == {*RATIOS, "aws_calls", "asset_bytes", "details"}
    for name in RATIOS:
        assert isinstance(figures[name], float)
        assert figures[name] > 0
    # And the asset is a zip of some files, under its bound
    assert 0 < figures["asset_bytes"] <= 200_000
    assert figures["details"]["asset"]["files"] > 0

    # And a webhook of N records costs ceil(N/25) writes and no reads
    assert figures["aws_calls"] == {
        "1": {"write": 1, "read": 0},
        "100": {"write": 4, "read": 0},
        "1000": {"write": 40, "read": 0},
    }
    # And the baselines were measured: the floor answered, json.loads and the naive receiver ran
    details = figures["details"]
    assert details["cold_start"]["floor_ms"] > 0
    assert details["cpu"]["json_loads_us"] > 0
    assert details["throughput"]["naive_records_per_second"] > 0


def _figures(*, quick: bool, **values: Any) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "cold_start_ratio": 1.5,
        "cpu_100_ratio": 6.0,
        "aws_calls": {
            "1": {"write": 1, "read": 0},
            "100": {"write": 4, "read": 0},
            "1000": {"write": 40, "read": 0},
        },
        "throughput_ratio": 6.0,
        "asset_bytes": 50_000,
        "details": {"run": {"quick": quick}},
    }
    return figures | values


def test_a_full_run_reports_every_figure_outside_its_bound() -> None:
    assert breaches(_figures(quick=False)) == []
    slow = _figures(quick=False, cold_start_ratio=2.0, throughput_ratio=4.9, asset_bytes=200_001)
    assert breaches(slow) == ["cold_start_ratio", "throughput_ratio", "asset_bytes"]


def test_a_quick_run_checks_only_the_exact_figures() -> None:
    # Given a quick run whose timings are out of bounds (a few iterations say nothing of speed)
    figures = _figures(quick=True, cpu_100_ratio=50.0, aws_calls={"1": {"write": 2, "read": 1}})
    # Then only the AWS calls count as broken
    assert breaches(figures) == ["aws_calls"]


def test_the_bench_builds_the_asset_without_importing_cdk() -> None:
    # aws_cdk starts node (jsii) at import: seconds the bench does not need to build the Lambda asset
    code = "import sys, bench.__main__; print(sorted({'aws_cdk', 'jsii'} & set(sys.modules)))"
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert completed.stdout.strip() == "[]"
