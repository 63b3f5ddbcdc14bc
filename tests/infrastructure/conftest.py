"""Build the real app (app.build_app, with cdk.json's feature flags) for the template tests.

The tests use their own two stages, so that changing an example value in cdk.json does not break them;
test_cdk_json.py checks cdk.json's own stages.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from app import build_app
from infra.settings import StageSettings
from infra.stack import CmcWebhooksStack

ROOT = Path(__file__).resolve().parents[2]

# Configured subscriber targets outside the stack: the only account ids a template may hold.
FUNCTION_ARN = "arn:aws:lambda:ap-northeast-1:111122223333:function:crm-sync"
TOPIC_ARN = "arn:aws:sns:ap-northeast-1:111122223333:mail-alerts"
# Documentation ranges (RFC 5737, RFC 3849) and a reserved domain.
ALLOWED_SOURCE_CIDRS = ["192.0.2.0/24", "198.51.100.17/32", "2001:db8::/32"]
ALARM_EMAIL = "ops@example.com"
# The Powertools release the tests run against: the layer the stages deploy.
POWERTOOLS_VERSION = version("aws-lambda-powertools")

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
        "powertools_layer_version": POWERTOOLS_VERSION,
        "event_source": "customers-mail-cloud",
        "published_kinds": ["bounced", "failed", "blocked"],
        "archive_retention_days": 7,
        "subscribers": [{"name": "default", "kind": "queue"}],
        # Every protection off, as cdk.json's stages ship.
        "max_body_bytes": 5242880,
        "soft_bounce_threshold": 3,
        "soft_bounce_window_days": 7,
        "suppress_on_hard_bounce": True,
        "suppress_on_block": True,
        "success_clears_soft_bounces": True,
        "allowed_source_cidrs": [],
        "waf_rate_limit_per_5min": None,
        "alarm_email": None,
        "api_5xx_rate_percent": 5,
        "auth_failures_per_5min": 10,
        "reconcile_server_composition": "sandbox",
    },
    "prod": {
        "time_zone": "UTC",
        "retention_days": 400,
        "clean_retention_days": 45,
        "quarantine_retention_days": 90,
        "recipient_index": "suppression",
        "max_records_per_request": 5000,
        "log_level": "INFO",
        "log_retention": "THREE_MONTHS",
        "throttling_rate_limit": 50,
        "throttling_burst_limit": 100,
        "retain_data": True,
        "powertools_layer_version": POWERTOOLS_VERSION,
        "event_source": "cmc.example.prod",
        "published_kinds": ["bounced", "failed", "blocked", "deferred"],
        "archive_retention_days": 365,
        # One subscriber of each kind, with the rule fields and retry settings they take.
        "subscribers": [
            {"name": "default", "kind": "queue"},
            {
                "name": "hard-bounces",
                "kind": "queue",
                "rule": {"detail_types": ["Email Bounced"], "bounce_codes": ["1", "2"]},
                "retry_attempts": 3,
                "max_event_age_hours": 2,
            },
            {
                "name": "crm",
                "kind": "function",
                "function_arn": FUNCTION_ARN,
                "rule": {"server_compositions": ["pro"]},
            },
            {
                "name": "alerts",
                "kind": "topic",
                "topic_arn": TOPIC_ARN,
                "rule": {"detail_types": ["Email Blocked", "Email Delivery Deferred"]},
            },
            {
                "name": "orders",
                "kind": "http",
                "endpoint": "https://hooks.example.com/cmc/events",
                "rule": {"api_data_prefix": "order-"},
                "rate_limit_per_second": 20,
                "auth": {"type": "api_key", "header": "X-Api-Key", "secret_name": "cmc/orders-api-key"},
            },
            {
                "name": "legacy",
                "kind": "http",
                "endpoint": "https://legacy.example.com/bounces",
                "http_method": "PUT",
                "auth": {
                    "type": "basic",
                    "username": "cmc",
                    "secret_name": "cmc/legacy",
                    "secret_field": "password",
                },
            },
        ],
        # Every protection on.
        "max_body_bytes": 1048576,
        "soft_bounce_threshold": 5,
        "soft_bounce_window_days": 30,
        "suppress_on_hard_bounce": True,
        "suppress_on_block": False,
        "success_clears_soft_bounces": False,
        "allowed_source_cidrs": ALLOWED_SOURCE_CIDRS,
        "waf_rate_limit_per_5min": 2000,
        "alarm_email": ALARM_EMAIL,
        "api_5xx_rate_percent": 2,
        "auth_failures_per_5min": 25,
        # The daily reconciliation with CMC's API and the no-webhook alarm (dev: neither).
        "reconcile_server_composition": "pro",
        "reconcile_hour": 5,
        "no_webhook_alarm_hours": 12,
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
def key_stacks() -> dict[str, CmcWebhooksStack]:
    """The test stages with customer_managed_key on."""
    stages = {name: entry | {"customer_managed_key": True} for name, entry in TEST_STAGES.items()}
    return {name: build_stack({"stages": stages, "stage": name}) for name in stages}


@pytest.fixture(scope="session")
def key_templates(key_stacks: dict[str, CmcWebhooksStack]) -> dict[str, Template]:
    return {name: Template.from_stack(stack) for name, stack in key_stacks.items()}


@pytest.fixture(scope="session")
def templates(stacks: dict[str, CmcWebhooksStack]) -> dict[str, Template]:
    return {name: Template.from_stack(stack) for name, stack in stacks.items()}


@pytest.fixture(scope="session")
def template(templates: dict[str, Template], stage: str) -> Template:
    """The template of each test stage in turn."""
    return templates[stage]


@pytest.fixture(scope="session")
def settings(stage: str) -> StageSettings:
    return StageSettings.from_context(stage, TEST_STAGES[stage])


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


def function_with_handler(template: Template, handler: str) -> tuple[str, dict[str, Any]]:
    """The logical id and body of the one Lambda function with this handler."""
    found = {
        logical_id: body
        for logical_id, body in template.find_resources("AWS::Lambda::Function").items()
        if body["Properties"]["Handler"] == handler
    }
    assert len(found) == 1, f"expected one function with handler {handler}, found {sorted(found)}"
    ((logical_id, body),) = found.items()
    return logical_id, dict(body)


def webhook_secret(template: Template) -> tuple[str, dict[str, Any]]:
    """The logical id and body of the webhook credentials' secret (the reconciliation has its own)."""
    (found,) = [
        (logical_id, dict(body))
        for logical_id, body in template.find_resources("AWS::SecretsManager::Secret").items()
        if logical_id.startswith("WebhookAuthSecret")
    ]
    return found


def publisher_mapping(template: Template) -> dict[str, Any]:
    """The body of the stream publisher's event source mapping (the suppression tracker has one too)."""
    function_id, _ = function_with_handler(template, "cmc_webhooks.handlers.publisher.lambda_handler")
    (mapping,) = [
        body
        for body in template.find_resources("AWS::Lambda::EventSourceMapping").values()
        if body["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    return dict(mapping)


def statements_of_role(template: Template, role_id: str) -> list[list[dict[str, Any]]]:
    """The statements of every AWS::IAM::Policy attached to the role, one list per policy."""
    return [
        policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
    ]


def one_bucket(
    template: Template, prefix: str, resource_type: str = "AWS::S3::Bucket"
) -> tuple[str, dict[str, Any]]:
    """The logical id and body of the one bucket (or bucket policy) whose logical id starts with `prefix`:
    the stack has the spill's and inbound mail's."""
    (found,) = [
        (rid, dict(body))
        for rid, body in template.find_resources(resource_type).items()
        if rid.startswith(prefix)
    ]
    return found
