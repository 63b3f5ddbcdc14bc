"""What the functions trace when tracing is on, as in Lambda: the AWS SDK's calls, nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cmc_webhooks import contract

ROOT = Path(__file__).resolve().parents[2]
TRACING_SWITCHES = ("POWERTOOLS_", "AWS_XRAY_", "AWS_SAM_LOCAL", "AWS_CHALICE_CLI_MODE")
PROBE = (
    "import json, sys, importlib; importlib.import_module(sys.argv[1]); "
    "from aws_xray_sdk.core.patcher import _PATCHED_MODULES; "
    "print(json.dumps({'patched': sorted(_PATCHED_MODULES), 'requests': 'requests' in sys.modules}))"
)


@pytest.mark.parametrize("handler", ["cmc_webhooks.handlers.api", "cmc_webhooks.handlers.publisher"])
def test_with_tracing_on_only_the_aws_sdk_is_patched(handler: str, tmp_path: Path) -> None:
    env = {
        # Nothing of this machine's that turns tracing off (Powertools' and the X-Ray SDK's own switches).
        **{name: value for name, value in os.environ.items() if not name.startswith(TRACING_SWITCHES)},
        # As in Lambda with active tracing (no daemon is needed to import and patch).
        "AWS_LAMBDA_FUNCTION_NAME": "cmc-webhooks-test",
        "LAMBDA_TASK_ROOT": str(tmp_path),
        "AWS_REGION": "ap-northeast-1",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "lambda_src"), str(ROOT)]),
    }

    completed = subprocess.run(
        [sys.executable, "-c", PROBE, handler],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr[-2000:]
    found = json.loads(completed.stdout.strip().splitlines()[-1])
    assert found == {"patched": sorted(contract.TRACED_MODULES), "requests": False}
