"""The reliability scenarios in quick mode: the same invariants as docs/reliability.md's runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("scenario", ["load", "faults"])
def test_nothing_is_lost_or_stored_twice(scenario: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CMC_"))}
    result = subprocess.run(
        [sys.executable, "-m", "reliability", scenario, "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = result.stdout
    assert result.returncode == 0, report + result.stderr[-3000:]
    assert "nothing lost, nothing stored twice" in report
    stored = next(line for line in report.splitlines() if line.startswith("unique records / stored events"))
    unique, events = stored.split()[-3], stored.split()[-1]
    assert unique == events == "480"
    if scenario == "faults":
        faults = next(line for line in report.splitlines() if line.startswith("faults injected"))
        for kind in ("ddb_throttled", "ddb_unprocessed_items", "events_entries_failed"):
            assert kind in faults  # the faults really happened
