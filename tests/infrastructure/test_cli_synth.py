"""The real CLI (`npx cdk synth`, pinned in package.json) synthesizes offline, and cfn-lint finds nothing.

This is what `make synth` does; it runs with every AWS variable removed, so it proves that synth
needs no credentials, no account and no lookups.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from infra.asset_build import build_asset
from tests.infrastructure.conftest import ROOT
from tests.infrastructure.test_asset_build import files_under


def cdk_synth(out: Path, *context: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "CDK_"))}
    env |= {
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        # Make any attempt to reach AWS fail fast instead of finding credentials on this machine.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    npx = shutil.which("npx")
    assert npx, "Node.js (npx) is needed: run `make install`"
    return subprocess.run(
        [npx, "--no-install", "cdk", "synth", "--quiet", "--output", str(out), *context],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def cloud_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cdk.out")
    result = cdk_synth(out)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_an_unknown_stage_stops_the_synth_with_one_line_naming_it(tmp_path: Path) -> None:
    result = cdk_synth(tmp_path / "out", "-c", "stage=nope")

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if "nope" in line]
    assert line == "unknown stage 'nope'; cdk.json defines ['dev', 'prod']"
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_synth_writes_the_dev_template(cloud_assembly: Path) -> None:
    manifest = json.loads((cloud_assembly / "manifest.json").read_text())
    stack = manifest["artifacts"]["cmc-webhooks-dev"]

    assert stack["type"] == "aws:cloudformation:stack"
    assert stack["environment"] == "aws://unknown-account/unknown-region"
    assert (cloud_assembly / "cmc-webhooks-dev.template.json").is_file()


def cfn_lint(*templates: Path) -> subprocess.CompletedProcess[str]:
    # The only ignore is in the template itself: W3005 on the Lambda function, a DependsOn CDK generates.
    return subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), *map(str, templates)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cfn_lint_finds_no_error_or_warning(cloud_assembly: Path) -> None:
    result = cfn_lint(*sorted(cloud_assembly.glob("*.template.json")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_finds_nothing_in_the_retained_stage_either(prod: Template, tmp_path: Path) -> None:
    path = tmp_path / "prod.template.json"
    path.write_text(json.dumps(prod.to_json()))

    result = cfn_lint(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_function_runs_from_the_asset_build_asset_makes(cloud_assembly: Path, tmp_path: Path) -> None:
    template = json.loads((cloud_assembly / "cmc-webhooks-dev.template.json").read_text())
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert {function["Properties"]["Handler"] for function in functions} == {
        "cmc_webhooks.handlers.api.lambda_handler",
        "cmc_webhooks.handlers.publisher.lambda_handler",
        "cmc_webhooks.handlers.spill_drain.lambda_handler",
        "cmc_webhooks.handlers.reconcile.lambda_handler",
        "cmc_webhooks.handlers.suppression_tracker.lambda_handler",
    }
    # The directory the deploy zips and uploads: the asset manifest's source for the functions' S3Key.
    (s3_key,) = {function["Properties"]["Code"]["S3Key"] for function in functions}
    manifest = json.loads((cloud_assembly / "cmc-webhooks-dev.assets.json").read_text())
    source = manifest["files"][s3_key.removesuffix(".zip")]["source"]
    assert source["packaging"] == "zip"

    build_asset(tmp_path)
    assert files_under(cloud_assembly / source["path"]) == files_under(tmp_path)
