"""cold_start_ratio: fresh processes importing a handler and answering its first 100-record webhook.

One moto server (the parent's) serves every child; children alternate (ours, floor, stack, ours,
...) so that a noisy neighbour hits them alike, and the ratio is the median of each pair's ratio (a
pair runs back to back, so a slow spell of this shared machine cancels out within it).

The stack child (bench/stack_floor.py) is the floor after importing the libraries the architecture
asks for (Powertools, pydantic): its ratio to the floor is the part of ours no code of ours can change.

The children import our modules from bytecode, as Lambda does: the deployed asset ships unchecked-hash
pycs (infra/asset_build.py), so the bench builds the same asset, compiled by its own interpreter, and
puts it first on the children's path.
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
from bench.payloads import webhook_body
from cmc_dev.backend import LocalBackend
from cmc_dev.gateway import rest_proxy_event
from cmc_webhooks import contract
from infra.asset_build import build_asset

CHILD_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class ColdRun:
    process_seconds: float  # spawn -> answer, interpreter start-up included
    import_seconds: float  # from the child's first line to the handler imported
    answer_seconds: float  # from the child's first line to the answer


@dataclass(frozen=True)
class ColdStartResult:
    runs: int
    handler: ColdRun  # medians
    floor: ColdRun
    stack: ColdRun
    ratio: float  # median of the (handler, floor) pairs' process_seconds ratios
    stack_ratio: float  # the same of the (floor, stack) pairs: the libraries alone

    @property
    def in_process_ratio(self) -> float:
        return self.handler.answer_seconds / self.floor.answer_seconds


def child_environment(backend: LocalBackend, asset: Path) -> dict[str, str]:
    """`asset`: the Lambda asset built by build_asset, with pycs for this interpreter."""
    env = dict(os.environ)
    env.update(backend.environment())
    python_path = [str(asset), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env.update(
        {
            # As deployed, but without an X-Ray daemon or CloudWatch to send to.
            "POWERTOOLS_SERVICE_NAME": contract.SERVICE_NAME,
            "POWERTOOLS_TRACE_DISABLED": "true",
            **contract.RUNTIME_ENVIRONMENT,  # as the stack sets it
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            # Lambda sets it; the X-Ray SDK (imported by Powertools' Tracer) then uses its local
            # sampler, as in Lambda. Without it, the SDK builds two X-Ray botocore clients at import,
            # which no Lambda cold start pays.
            "LAMBDA_TASK_ROOT": tempfile.gettempdir(),
            # Our modules come from the asset and its pycs, as in Lambda. No child writes a pyc for the
            # next one (Lambda's /var/task is read-only).
            "PYTHONPATH": os.pathsep.join(python_path),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


def _one(mode: str, event_file: Path, env: dict[str, str]) -> ColdRun:
    command = [sys.executable, "-m", "bench.cold_child", mode, str(event_file)]
    spawned = time.perf_counter()
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        for line in child.stdout:
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
    return ColdRun(
        process_seconds=answered - spawned,
        import_seconds=report["import_seconds"],
        answer_seconds=report["seconds"],
    )


def _median(runs: list[ColdRun]) -> ColdRun:
    return ColdRun(
        process_seconds=statistics.median(run.process_seconds for run in runs),
        import_seconds=statistics.median(run.import_seconds for run in runs),
        answer_seconds=statistics.median(run.answer_seconds for run in runs),
    )


def measure(backend: LocalBackend, *, runs: int) -> ColdStartResult:
    event = rest_proxy_event(
        method="POST",
        target=contract.WEBHOOK_PATH,
        headers=[("Content-Type", "application/json")],
        body=webhook_body(100, tag="cold"),
        source_ip="127.0.0.1",
    )
    with tempfile.TemporaryDirectory(prefix="cmc-bench-") as tmp:
        asset = Path(tmp) / "asset"
        build_asset(asset, python=sys.executable)
        env = child_environment(backend, asset)
        event_file = Path(tmp) / "event.json"
        event_file.write_text(json.dumps(event), encoding="utf-8")
        results: dict[str, list[ColdRun]] = {"handler": [], "floor": [], "stack": []}
        for mode in results:  # warm the OS file cache for all alike
            _one(mode, event_file, env)
        for _ in range(runs):
            for mode, collected in results.items():
                collected.append(_one(mode, event_file, env))
    return ColdStartResult(
        runs=runs,
        handler=_median(results["handler"]),
        floor=_median(results["floor"]),
        stack=_median(results["stack"]),
        ratio=_median_ratio(results["handler"], results["floor"]),
        stack_ratio=_median_ratio(results["stack"], results["floor"]),
    )


def _median_ratio(runs: list[ColdRun], floors: list[ColdRun]) -> float:
    return statistics.median(
        run.process_seconds / floor.process_seconds for run, floor in zip(runs, floors, strict=True)
    )
