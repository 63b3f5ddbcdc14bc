"""Monitoring: every alarm's metric, threshold and actions, the alarm topic, and the dashboard.

The test dev stage has no alarm e-mail and the default thresholds; prod sets both (conftest).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Template

from cmc_webhooks import contract
from infra.settings import StageSettings
from tests.infrastructure.conftest import ALARM_EMAIL, function_with_handler, only, publisher_mapping
from tests.infrastructure.test_subscribers import target_of

INGEST = "cmc_webhooks.handlers.api.lambda_handler"
PUBLISHER = "cmc_webhooks.handlers.publisher.lambda_handler"
TRACKER = "cmc_webhooks.handlers.suppression_tracker.lambda_handler"
SERVICE_DIMENSIONS = [{"Name": "service", "Value": contract.SERVICE_NAME}]


def alarms(template: Template) -> dict[str, dict[str, Any]]:
    """The alarms' properties by construct id (Monitoring/<id> -> Monitoring<id><hash>)."""
    found = {}
    for logical_id, body in template.find_resources("AWS::CloudWatch::Alarm").items():
        match = re.fullmatch(r"Monitoring(\w+)[0-9A-F]{8}", logical_id)
        assert match, logical_id
        found[match.group(1)] = body["Properties"]
    return found


def topic_id(template: Template) -> str:
    logical_id, _ = only(template, "AWS::SNS::Topic")
    return logical_id


def metric_of(alarm: dict[str, Any]) -> dict[str, Any]:
    """A single-metric alarm's metric, as (namespace, name, dimensions, statistic, period)."""
    return {key: alarm[key] for key in ("Namespace", "MetricName", "Dimensions", "Statistic", "Period")}


def template_stage(alarm: dict[str, Any]) -> str:
    (stage,) = [tag["Value"] for tag in alarm["Tags"] if tag["Key"] == "stage"]
    return str(stage)


def dead_letter_queue_ids(template: Template, settings: StageSettings) -> dict[str, str]:
    """{alarm id: queue logical id} for the stream consumers' on-failure queues, the spill drain's DLQ and
    every subscriber's DLQ."""
    mapping = publisher_mapping(template)
    on_failure = mapping["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    (spill_dead_letters,) = [
        name for name in template.find_resources("AWS::SQS::Queue") if name.startswith("SpillDeadLetterQueue")
    ]
    queues = {"PublisherOnFailureQueueDepth": on_failure, "SpillDeadLetterQueueDepth": spill_dead_letters}
    tracker_id, _ = function_with_handler(template, TRACKER)
    (tracker_mapping,) = [
        body["Properties"]
        for body in template.find_resources("AWS::Lambda::EventSourceMapping").values()
        if body["Properties"]["FunctionName"] == {"Ref": tracker_id}
    ]
    destination = tracker_mapping["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    queues["SuppressionTrackerOnFailureQueueDepth"] = destination
    for subscriber in settings.subscribers:
        name = "".join(part.capitalize() for part in subscriber.name.split("-"))
        dead_letter = target_of(template, subscriber.name)["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
        queues[f"{name}SubscriberDeadLetterQueueDepth"] = dead_letter
    return queues


def test_every_alarm_notifies_the_topic_when_it_fires_and_when_it_clears(template: Template) -> None:
    topic = {"Ref": topic_id(template)}

    for alarm_id, alarm in alarms(template).items():
        assert alarm["AlarmActions"] == [topic], alarm_id
        assert alarm["OKActions"] == [topic], alarm_id
        if alarm_id == "NoWebhooks":  # counts hours without data (test_reconciliation.py)
            continue
        # One 5-minute period: these metrics exist only when something happened, so no data is fine.
        assert alarm["EvaluationPeriods"] == 1, alarm_id
        assert alarm["DatapointsToAlarm"] == 1, alarm_id
        assert alarm["TreatMissingData"] == "notBreaching", alarm_id
        assert alarm["AlarmDescription"].startswith(f"cmc-webhooks-{template_stage(alarm)}: "), alarm_id


def test_these_alarms_and_no_others(template: Template, settings: StageSettings) -> None:
    assert set(alarms(template)) == {
        "Api5xxRate",
        "IngestErrors",
        "IngestThrottles",
        "PublisherErrors",
        "PublisherThrottles",
        "PublisherIteratorAge",
        "SuppressionTrackerErrors",
        "SuppressionTrackerThrottles",
        "SuppressionTrackerIteratorAge",
        contract.Metric.AUTH_FAILURES,
        contract.Metric.STORAGE_FAILURES,
        contract.Metric.INBOUND_TOO_LARGE,
        contract.Metric.WEBHOOKS_SPILLED,
        *dead_letter_queue_ids(template, settings),
        # The daily reconciliation (both test stages run it) and, where the stage asks, no webhooks.
        contract.Metric.RECONCILE_FAILURES,
        "ReconcileErrors",
        contract.Metric.RECONCILE_WRITTEN,
        *(["NoWebhooks"] if settings.no_webhook_alarm_hours else []),
    }


def test_the_5xx_rate_alarm_is_the_percentage_of_5xx_answers_of_the_stage(
    template: Template, settings: StageSettings
) -> None:
    _, api = only(template, "AWS::ApiGateway::RestApi")
    stage_id, _ = only(template, "AWS::ApiGateway::Stage")
    alarm = alarms(template)["Api5xxRate"]
    dimensions = [
        {"Name": "ApiName", "Value": api["Properties"]["Name"]},
        {"Name": "Stage", "Value": {"Ref": stage_id}},
    ]

    def stat(metric_name: str) -> dict[str, Any]:
        return {
            "Metric": {"Dimensions": dimensions, "MetricName": metric_name, "Namespace": "AWS/ApiGateway"},
            "Period": 300,
            "Stat": "Sum",
        }

    expression, *inputs = alarm["Metrics"]
    assert expression["Expression"] == "100 * errors / requests"
    assert expression["ReturnData"] is True
    assert inputs == [
        {"Id": "errors", "MetricStat": stat("5XXError"), "ReturnData": False},
        {"Id": "requests", "MetricStat": stat("Count"), "ReturnData": False},
    ]
    assert alarm["Threshold"] == settings.api_5xx_rate_percent
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


@pytest.mark.parametrize(
    ("alarm_id", "handler", "metric_name", "statistic", "threshold"),
    [
        ("IngestErrors", INGEST, "Errors", "Sum", 1),
        ("IngestThrottles", INGEST, "Throttles", "Sum", 1),
        ("PublisherErrors", PUBLISHER, "Errors", "Sum", 1),
        ("PublisherThrottles", PUBLISHER, "Throttles", "Sum", 1),
        # Milliseconds: the publisher is 5 minutes or more behind the table's stream.
        ("PublisherIteratorAge", PUBLISHER, "IteratorAge", "Maximum", 300_000),
        ("SuppressionTrackerErrors", TRACKER, "Errors", "Sum", 1),
        ("SuppressionTrackerThrottles", TRACKER, "Throttles", "Sum", 1),
        ("SuppressionTrackerIteratorAge", TRACKER, "IteratorAge", "Maximum", 300_000),
    ],
)
def test_function_alarms(
    template: Template, alarm_id: str, handler: str, metric_name: str, statistic: str, threshold: int
) -> None:
    function_id, _ = function_with_handler(template, handler)
    alarm = alarms(template)[alarm_id]

    assert metric_of(alarm) == {
        "Namespace": "AWS/Lambda",
        "MetricName": metric_name,
        "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": function_id}}],
        "Statistic": statistic,
        "Period": 300,
    }
    assert alarm["Threshold"] == threshold
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_a_message_in_any_dead_letter_queue_raises_its_alarm(
    template: Template, settings: StageSettings
) -> None:
    found = alarms(template)

    for alarm_id, queue_id in dead_letter_queue_ids(template, settings).items():
        alarm = found[alarm_id]
        assert metric_of(alarm) == {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}],
            "Statistic": "Maximum",
            "Period": 300,
        }
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_authentication_failures_above_the_setting_raise_the_alarm(
    template: Template, settings: StageSettings
) -> None:
    alarm = alarms(template)[contract.Metric.AUTH_FAILURES]

    assert metric_of(alarm) == {
        "Namespace": contract.METRICS_NAMESPACE,
        "MetricName": contract.Metric.AUTH_FAILURES,
        "Dimensions": SERVICE_DIMENSIONS,
        "Statistic": "Sum",
        "Period": 300,
    }
    assert alarm["Threshold"] == settings.auth_failures_per_5min
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_one_storage_failure_raises_the_alarm(template: Template) -> None:
    alarm = alarms(template)[contract.Metric.STORAGE_FAILURES]

    assert metric_of(alarm) == {
        "Namespace": contract.METRICS_NAMESPACE,
        "MetricName": contract.Metric.STORAGE_FAILURES,
        "Dimensions": SERVICE_DIMENSIONS,
        "Statistic": "Sum",
        "Period": 300,
    }
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_the_topic_is_encrypted_with_a_rotated_key_cloudwatch_may_use(template: Template) -> None:
    key_id, key = only(template, "AWS::KMS::Key")
    _, topic = only(template, "AWS::SNS::Topic")

    # Not alias/aws/sns: CloudWatch cannot publish to a topic encrypted with that AWS managed key.
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    assert {
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Resource": "*",
    } in key["Properties"]["KeyPolicy"]["Statement"]


def test_the_topic_takes_publishes_over_tls_only_and_from_this_accounts_alarms(template: Template) -> None:
    topic = {"Ref": topic_id(template)}
    _, policy = only(template, "AWS::SNS::TopicPolicy")

    assert policy["Properties"]["Topics"] == [topic]
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Action": "sns:Publish",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": "*",
            "Resource": topic,
            "Sid": "AllowPublishThroughSSLOnly",
        },
        {
            "Action": "sns:Publish",
            "Condition": {
                "ArnLike": {
                    "aws:SourceArn": {
                        "Fn::Join": [
                            "",
                            [
                                "arn:",
                                {"Ref": "AWS::Partition"},
                                ":cloudwatch:",
                                {"Ref": "AWS::Region"},
                                ":",
                                {"Ref": "AWS::AccountId"},
                                ":alarm:*",
                            ],
                        ]
                    }
                }
            },
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Resource": topic,
            "Sid": "CloudWatchAlarmsOfThisAccount",
        },
    ]


def test_the_alarm_email_is_subscribed_only_when_set(dev: Template, prod: Template) -> None:
    assert not dev.find_resources("AWS::SNS::Subscription")
    _, subscription = only(prod, "AWS::SNS::Subscription")

    assert subscription["Properties"] == {
        "Endpoint": ALARM_EMAIL,
        "Protocol": "email",
        "TopicArn": {"Ref": topic_id(prod)},
    }


def test_the_dashboard_shows_traffic_records_failures_publishing_and_dead_letter_queues(
    template: Template,
) -> None:
    _, dashboard = only(template, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])

    for title in (
        "API requests and errors",
        "API latency (ms)",
        "Webhook records",
        "Refused and failed webhooks",
        "Function errors and throttles",
        "Publishing",
        "Dead-letter queues (visible messages)",
        "Alarms",
    ):
        assert f'\\"title\\":\\"{title}\\"' in body, title
    for metric_name in (
        "Count",
        "4XXError",
        "5XXError",
        "Latency",
        contract.Metric.RECORDS_RECEIVED,
        contract.Metric.RECORDS_WRITTEN,
        contract.Metric.RECORDS_DUPLICATED,
        contract.Metric.RECORDS_QUARANTINED,
        contract.Metric.RECORDS_UNRECOGNIZED,
        contract.Metric.AUTH_FAILURES,
        contract.Metric.REQUESTS_REFUSED,
        contract.Metric.STORAGE_FAILURES,
        contract.Metric.EVENTS_PUBLISHED,
        contract.Metric.EVENTS_PUBLISH_FAILED,
        "IteratorAge",
        "ApproximateNumberOfMessagesVisible",
    ):
        assert f'\\"{metric_name}\\"' in body, metric_name
    # The alarm status widget lists every alarm.
    for logical_id in template.find_resources("AWS::CloudWatch::Alarm"):
        assert logical_id in body


def test_outputs_name_the_topic_and_the_dashboard(template: Template) -> None:
    outputs = template.to_json()["Outputs"]
    dashboard_id, _ = only(template, "AWS::CloudWatch::Dashboard")

    assert outputs["AlarmTopicArn"]["Value"] == {"Ref": topic_id(template)}
    assert outputs["DashboardName"]["Value"] == {"Ref": dashboard_id}
