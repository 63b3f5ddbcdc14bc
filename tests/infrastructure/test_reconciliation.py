"""The daily reconciliation in the template: the schedule at the stage's hour and zone, the CMC API's own
secret that only the reconcile function may read, its table actions, and the alarms. (The per-day
counters are kept by the suppression tracker: tests/infrastructure/test_suppression_tracker.py.)"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template

from cmc_webhooks import contract
from infra.reconciliation import schedule_time
from infra.settings import StageSettings
from tests.infrastructure.conftest import (
    TEST_STAGES,
    build_stack,
    function_with_handler,
    only,
    statements_of_role,
    webhook_secret,
)

RECONCILE = "cmc_webhooks.handlers.reconcile.lambda_handler"
TRACKER = "cmc_webhooks.handlers.suppression_tracker.lambda_handler"
INGEST = "cmc_webhooks.handlers.api.lambda_handler"


def role_statements(template: Template, handler: str) -> list[dict[str, Any]]:
    _, function = function_with_handler(template, handler)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return [statement for policy in statements_of_role(template, role_id) for statement in policy]


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def api_secret_id(template: Template) -> str:
    (secret_id,) = [
        logical_id
        for logical_id, body in template.find_resources("AWS::SecretsManager::Secret").items()
        if logical_id.startswith("ReconciliationApiSecret")
    ]
    return secret_id


def test_the_schedule_invokes_the_function_daily_at_the_stages_hour_in_its_zone(
    template: Template, settings: StageSettings
) -> None:
    reconcile_id, _ = function_with_handler(template, RECONCILE)
    _, schedule = only(template, "AWS::Scheduler::Schedule")
    properties = schedule["Properties"]
    minute, hour, zone = schedule_time(settings.time_zone, settings.reconcile_hour)

    assert properties["ScheduleExpression"] == f"cron({minute} {hour} * * ? *)"
    assert properties["ScheduleExpressionTimezone"] == zone.timezone_name
    assert properties["Target"]["Arn"] == {"Fn::GetAtt": [reconcile_id, "Arn"]}
    assert json.loads(properties["Target"]["Input"]) == {}
    assert properties["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 0


def test_a_fixed_offset_zone_is_scheduled_as_the_same_instant_in_utc() -> None:
    assert schedule_time("+09:00", 4)[:2] == ("0", "19")
    assert schedule_time("+05:30", 4)[:2] == ("30", "22")
    assert schedule_time("Asia/Tokyo", 4)[:2] == ("0", "4")


def test_only_the_reconcile_function_reads_the_cmc_api_secret(template: Template) -> None:
    secret = {"Ref": api_secret_id(template)}
    reconcile = role_statements(template, RECONCILE)
    _, function = function_with_handler(template, RECONCILE)

    assert function["Properties"]["Environment"]["Variables"]["CMC_API_SECRET_NAME"] == secret
    secret_reads = [s for s in reconcile if any(a.startswith("secretsmanager:") for a in actions(s))]
    assert secret_reads == [
        {"Action": "secretsmanager:GetSecretValue", "Effect": "Allow", "Resource": secret}
    ]
    for handler in (INGEST, TRACKER):
        assert secret not in [s["Resource"] for s in role_statements(template, handler)], handler


def test_the_function_gets_exactly_its_table_actions(template: Template) -> None:
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    table_arn = {"Fn::GetAtt": [table_id, "Arn"]}

    def table_actions(handler: str) -> set[str]:
        return {
            action
            for statement in role_statements(template, handler)
            if statement["Resource"] == table_arn
            for action in actions(statement)
        }

    assert table_actions(RECONCILE) == {"dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:Query"}


def alarm(template: Template, construct_id: str) -> dict[str, Any] | None:
    found = [
        body["Properties"]
        for logical_id, body in template.find_resources("AWS::CloudWatch::Alarm").items()
        if logical_id.startswith(f"Monitoring{construct_id}")
    ]
    return found[0] if found else None


def test_alarms_fire_when_a_run_fails_and_when_it_had_to_write(template: Template) -> None:
    for name in (contract.Metric.RECONCILE_FAILURES, contract.Metric.RECONCILE_WRITTEN):
        properties = alarm(template, name)
        assert properties is not None, name
        assert (properties["MetricName"], properties["Namespace"]) == (name, contract.METRICS_NAMESPACE)
        assert (properties["Threshold"], properties["ComparisonOperator"]) == (
            1,
            "GreaterThanOrEqualToThreshold",
        )


def test_the_no_webhook_alarm_counts_hours_without_records_where_the_stage_asks(
    template: Template, settings: StageSettings
) -> None:
    properties = alarm(template, "NoWebhooks")

    if settings.no_webhook_alarm_hours is None:
        assert properties is None
        return
    assert properties is not None
    assert properties["MetricName"] == contract.Metric.RECORDS_RECEIVED
    assert (properties["Period"], properties["Statistic"]) == (3600, "Sum")
    assert (
        properties["EvaluationPeriods"] == properties["DatapointsToAlarm"] == settings.no_webhook_alarm_hours
    )
    assert (properties["Threshold"], properties["ComparisonOperator"]) == (1, "LessThanThreshold")
    assert properties["TreatMissingData"] == "breaching"


def test_a_stage_without_a_server_composition_has_no_reconciliation() -> None:
    stages = {"dev": {**TEST_STAGES["dev"], "reconcile_server_composition": None}}
    template = Template.from_stack(build_stack({"stages": stages, "stage": "dev"}))

    handlers = {
        body["Properties"]["Handler"] for body in template.find_resources("AWS::Lambda::Function").values()
    }

    assert template.find_resources("AWS::Scheduler::Schedule") == {}
    assert template.find_resources("AWS::SecretsManager::Secret").keys() == {webhook_secret(template)[0]}
    assert RECONCILE not in handlers


def test_the_function_gets_the_ingest_s_settings_and_its_own(
    template: Template, settings: StageSettings
) -> None:
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    _, function = function_with_handler(template, RECONCILE)
    variables = function["Properties"]["Environment"]["Variables"]

    assert variables["CMC_TABLE_NAME"] == {"Ref": table_id}
    assert variables["CMC_SERVER_COMPOSITION"] == settings.reconcile_server_composition
    # Its items are the webhook's: the same time zone, retention and index settings.
    for name, value in {**settings.ingest_environment(), **settings.reconcile_environment()}.items():
        assert variables[name] == value, name
