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

from infra.asset_build import find_runtime_python
from tests.infrastructure.conftest import ROOT, pyc_of


@pytest.fixture(scope="module")
def cloud_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cdk.out")
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
    result = subprocess.run(
        [npx, "--no-install", "cdk", "synth", "--quiet", "--output", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


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


def test_lambda_asset_holds_only_runtime_code(cloud_assembly: Path) -> None:
    template = json.loads((cloud_assembly / "cmc-webhooks-dev.template.json").read_text())
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    # Every function runs from the same asset: the runtime package.
    assert {function["Properties"]["Handler"] for function in functions} == {
        "cmc_webhooks.handlers.api.lambda_handler",
        "cmc_webhooks.handlers.publisher.lambda_handler",
    }
    (asset_path,) = {function["Metadata"]["aws:asset:path"] for function in functions}
    asset = cloud_assembly / asset_path

    files = {path.relative_to(asset).as_posix() for path in asset.rglob("*") if path.is_file()}
    assert "cmc_webhooks/contract.py" in files
    assert "cmc_webhooks/handlers/api.py" in files
    assert "cmc_webhooks/handlers/publisher.py" in files
    assert all(name.startswith("cmc_webhooks/") for name in files), sorted(files)
    assert not [name for name in files if name.endswith(".txt")]
    # Besides sources, only their pycs for the runtime's Python (when a python3.13 made them: below)
    sources = {name for name in files if name.endswith(".py")}
    assert files - sources == {pyc_of(name) for name in sources} & files


def test_lambda_asset_ships_unchecked_hash_bytecode_for_python_3_13(cloud_assembly: Path) -> None:
    if find_runtime_python() is None:
        pytest.skip("no python3.13 on this machine (PATH or pyenv): the asset ships source only")
    # The directory the deploy zips and uploads: the asset manifest's source for the functions' S3Key
    template = json.loads((cloud_assembly / "cmc-webhooks-dev.template.json").read_text())
    (s3_key,) = {
        r["Properties"]["Code"]["S3Key"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    }
    manifest = json.loads((cloud_assembly / "cmc-webhooks-dev.assets.json").read_text())
    source = manifest["files"][s3_key.removesuffix(".zip")]["source"]
    assert source["packaging"] == "zip"
    asset = cloud_assembly / source["path"]

    modules = {path.relative_to(asset).as_posix() for path in asset.rglob("*.py")}
    for module in modules:
        pyc = asset / pyc_of(module)
        assert pyc.is_file(), f"{pyc_of(module)} is missing from the staged asset"
        # PEP 552 flags: 0b01 = hash-based, source not checked (zip extraction does not keep mtimes)
        assert int.from_bytes(pyc.read_bytes()[4:8], "little") == 0b01, module
    assert (asset / "cmc_webhooks/handlers/__pycache__/api.cpython-313.pyc").is_file()
