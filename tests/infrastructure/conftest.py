"""Build the real app (app.build_app, with cdk.json's feature flags) for the template tests.

The tests use their own two stages, so that changing an example value in cdk.json does not break them;
test_cdk_json.py checks cdk.json's own stages.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from app import build_app
from infra.settings import StageSettings
from infra.stack import CmcWebhooksStack

ROOT = Path(__file__).resolve().parents[2]

TEST_STAGES: dict[str, dict[str, Any]] = {
    "dev": {
        "time_zone": "Asia/Tokyo",
        "retention_days": 30,
        "max_records_per_request": 1000,
        "log_level": "DEBUG",
        "log_retention": "TWO_WEEKS",
        "throttling_rate_limit": 10,
        "throttling_burst_limit": 20,
        "retain_data": False,
        "powertools_layer_version": "latest",
    },
    "prod": {
        "time_zone": "UTC",
        "retention_days": 400,
        "max_records_per_request": 5000,
        "log_level": "INFO",
        "log_retention": "THREE_MONTHS",
        "throttling_rate_limit": 50,
        "throttling_burst_limit": 100,
        "retain_data": True,
        "powertools_layer_version": "3.37.0",
    },
}
LOG_RETENTION_DAYS = {"dev": 14, "prod": 90}


def cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def build_stack(context: dict[str, Any]) -> CmcWebhooksStack:
    return build_app(cdk.App(context=cdk_json_context() | context))


@pytest.fixture(scope="session", params=sorted(TEST_STAGES))
def stage(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def stacks() -> dict[str, CmcWebhooksStack]:
    return {name: build_stack({"stages": TEST_STAGES, "stage": name}) for name in TEST_STAGES}


@pytest.fixture(scope="session")
def templates(stacks: dict[str, CmcWebhooksStack]) -> dict[str, Template]:
    return {name: Template.from_stack(stack) for name, stack in stacks.items()}


@pytest.fixture(scope="session")
def template(templates: dict[str, Template], stage: str) -> Template:
    """The template of each test stage in turn."""
    return templates[stage]


@pytest.fixture(scope="session")
def settings(stage: str) -> StageSettings:
    return StageSettings.from_mapping(stage, TEST_STAGES[stage])


@pytest.fixture(scope="session")
def dev(templates: dict[str, Template]) -> Template:
    return templates["dev"]


@pytest.fixture(scope="session")
def prod(templates: dict[str, Template]) -> Template:
    return templates["prod"]


def only(template: Template, resource_type: str) -> tuple[str, dict[str, Any]]:
    """The logical id and body of the one resource of this type."""
    resources = template.find_resources(resource_type)
    assert len(resources) == 1, f"expected one {resource_type}, found {sorted(resources)}"
    ((logical_id, body),) = resources.items()
    return logical_id, dict(body)
