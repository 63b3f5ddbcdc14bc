"""cdk.json's own stages: they load, and each synthesizes with no cdk-nag finding left unacknowledged."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks

from infra.settings import load_settings
from tests.infrastructure.conftest import build_stack, cdk_json_context


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_cdk_json_stage_synthesizes_cleanly(stage: str) -> None:
    stack = build_stack({"stage": stage})

    assert stack.stack_name == f"cmc-webhooks-{stage}"
    report = AwsSolutionsChecks().validate_scope(stack)
    assert report.violations == []
    assert report.success


def test_prod_in_cdk_json_keeps_its_data() -> None:
    settings = load_settings(cdk.App(context=cdk_json_context() | {"stage": "prod"}).node)
    assert settings.retain_data is True
