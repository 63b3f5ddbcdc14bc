"""The reliability scenarios in quick mode: the same invariants as docs/reliability.md's runs, read from
the run's JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("scenario", ["load", "faults"])
def test_nothing_is_lost_or_stored_twice(scenario: str, tmp_path: Path) -> None:
    # Given a quick run of the scenario, in an environment without AWS or function settings
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CMC_"))}
    output = tmp_path / "reliability.json"
    completed = subprocess.run(
        [sys.executable, "-m", "reliability", scenario, "--quick", "--json", str(output)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr[-3000:]
    result = json.loads(output.read_text(encoding="utf-8"))

    # Then every POST was accepted, every record stored once and every bounce published or dead-lettered
    assert result["problems"] == []
    assert result["gave_up"] == 0
    assert result["unique_records"] == result["stored_events"] == 24 * 20
    assert result["published_unique"] + result["on_failure"] >= result["unique_bounces"] > 0
    if scenario == "faults":
        # And the faults really happened
        for kind in (
            "ddb_throttled",
            "ddb_unprocessed_items",
            "events_entries_failed",
            "ddb_throttled_in_outage",
        ):
            assert result["faults"][kind] > 0
        # And while the table refused, webhooks were spilled and answered 200, none 5xx, none dead-lettered
        assert result["queued"] > 0
        assert result["answers_5xx"] == result["spill_dead_letters"] == 0
