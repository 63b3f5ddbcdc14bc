"""cold_start_ratio: fresh processes importing a handler and answering their first 100-record webhook.

One moto server (the parent's) serves every child. The children alternate, ours then the floor, and the
figure is the median of each pair's ratio: a pair runs back to back, so a slow spell of this shared
machine hits both alike. Our modules are imported from the Lambda asset as the stack builds it (source
only), and no child writes bytecode: Lambda's /var/task is read-only, so each cold start compiles them.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.cold_child import MARKER
from bench.environment import child_environment
from bench.payloads import webhook_event
from cmc_dev.backend import LocalBackend
from infra.asset_build import build_asset

CHILD_TIMEOUT_SECONDS = 60
# One record, which the floor stores too: with more, the figure would time moto storing the rest (DynamoDB
# takes them in parallel calls), not the cold start.
COLD_START_RECORDS = 1


@dataclass(frozen=True)
class ColdRun:
    process_seconds: float  # spawn -> answer, interpreter start-up included
    import_seconds: float  # from the child's first line to the handler imported


def _one(mode: str, event_file: Path, table_name: str, env: dict[str, str]) -> ColdRun:
    command = [sys.executable, "-m", "bench.cold_child", mode, str(event_file), table_name]
    spawned = time.perf_counter()
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        for line in child.stdout:  # the handler's own lines (EMF metrics) come first
            if line.startswith(MARKER):
                answered = time.perf_counter()
                report = json.loads(line[len(MARKER) :])
                break
        else:
            child.wait(CHILD_TIMEOUT_SECONDS)
            raise RuntimeError(f"the {mode} child exited with {child.returncode} before answering")
        child.stdout.read()
        if child.wait(CHILD_TIMEOUT_SECONDS) != 0 or report["status"] != 200:
            raise RuntimeError(f"the {mode} child answered {report['status']}, exit {child.returncode}")
    return ColdRun(process_seconds=answered - spawned, import_seconds=report["import_seconds"])


def measure(backend: LocalBackend, *, runs: int) -> dict[str, float | int]:
    """`runs` pairs of cold starts, after one of each to warm the OS file cache alike."""
    with tempfile.TemporaryDirectory(prefix="cmc-bench-") as tmp:
        asset = Path(tmp) / "asset"
        build_asset(asset)
        env = child_environment(backend)
        env.update(
            # Our modules from the asset, first on the path; as in Lambda, no bytecode is written.
            PYTHONPATH=os.pathsep.join(filter(None, [str(asset), env.get("PYTHONPATH")])),
            PYTHONDONTWRITEBYTECODE="1",
            # Lambda sets it: the X-Ray SDK (imported by Tracer) then takes its Lambda configuration.
            LAMBDA_TASK_ROOT=str(asset),
        )
        event_file = Path(tmp) / "event.json"
        event_file.write_text(json.dumps(webhook_event(COLD_START_RECORDS, tag="cold")), encoding="utf-8")
        ours: list[ColdRun] = []
        floor: list[ColdRun] = []
        for _ in range(runs + 1):
            ours.append(_one("handler", event_file, backend.table_name, env))
            floor.append(_one("floor", event_file, backend.table_name, env))
    del ours[0], floor[0]
    return {
        "ratio": statistics.median(
            a.process_seconds / b.process_seconds for a, b in zip(ours, floor, strict=True)
        ),
        "pairs": runs,
        "ms": statistics.median(run.process_seconds for run in ours) * 1000,
        "floor_ms": statistics.median(run.process_seconds for run in floor) * 1000,
        "import_ms": statistics.median(run.import_seconds for run in ours) * 1000,
        "floor_import_ms": statistics.median(run.import_seconds for run in floor) * 1000,
    }
