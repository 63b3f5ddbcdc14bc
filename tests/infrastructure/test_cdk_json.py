"""cdk.json's own stages: they load, deploy the Powertools the tests run, and synthesize with no cdk-nag
or guard-rail finding left unacknowledged."""

from __future__ import annotations

from importlib.metadata import version

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks

from infra.settings import load_settings
from tests.infrastructure.conftest import build_stack, cdk_json_context

STAGES = sorted(cdk_json_context()["stages"])


@pytest.mark.parametrize("stage", STAGES)
def test_cdk_json_stage_synthesizes_cleanly(stage: str) -> None:
    stack = build_stack({"stage": stage})

    assert stack.stack_name == f"cmc-webhooks-{stage}"
    report = AwsSolutionsChecks().validate_scope(stack)
    assert report.violations == []
    assert report.success
    # Both validation plugins, as `make synth` runs them: an unacknowledged finding raises.
    app = stack.node.root
    assert isinstance(app, cdk.App)
    app.synth(force=True)


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_deploys_the_powertools_release_the_tests_run(stage: str) -> None:
    settings = load_settings(cdk.App(context=cdk_json_context() | {"stage": stage}).node)
    assert settings.powertools_layer_version == version("aws-lambda-powertools")


def test_prod_in_cdk_json_keeps_its_data() -> None:
    settings = load_settings(cdk.App(context=cdk_json_context() | {"stage": "prod"}).node)
    assert settings.retain_data is True
