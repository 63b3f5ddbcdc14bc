"""The fan-out's publishing half: the bus and its archive, the publisher function, its stream mapping,
its on-failure queue, and a role that may put events on its bus and nowhere else."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template

from cmc_webhooks import contract
from cmc_webhooks.settings import PublisherSettings
from infra.settings import StageSettings
from tests.infrastructure.conftest import (
    LOG_RETENTION_DAYS,
    function_with_handler,
    only,
    publisher_mapping,
    statements_of_role,
)

PUBLISHER_HANDLER = "cmc_webhooks.handlers.publisher.lambda_handler"


def publisher(template: Template) -> tuple[str, dict[str, Any]]:
    return function_with_handler(template, PUBLISHER_HANDLER)


def mapping(template: Template) -> dict[str, Any]:
    body = publisher_mapping(template)
    properties: dict[str, Any] = body["Properties"]
    return properties


def on_failure_queue_id(template: Template) -> str:
    destination = mapping(template)["DestinationConfig"]["OnFailure"]["Destination"]
    queue_id: str = destination["Fn::GetAtt"][0]
    return queue_id


def test_the_bus_is_a_custom_bus_named_by_cdk(template: Template, stage: str) -> None:
    _, bus = only(template, "AWS::Events::EventBus")

    assert bus["Properties"]["Name"].startswith(f"cmcwebhooks{stage}EventBus")
    assert "EventSourceName" not in bus["Properties"]


def test_the_archive_keeps_every_published_event_for_the_configured_days(
    template: Template, settings: StageSettings
) -> None:
    bus_id, _ = only(template, "AWS::Events::EventBus")
    _, archive = only(template, "AWS::Events::Archive")

    assert archive["Properties"]["SourceArn"] == {"Fn::GetAtt": [bus_id, "Arn"]}
    assert archive["Properties"]["RetentionDays"] == settings.archive_retention_days
    assert archive["Properties"]["EventPattern"] == {"source": [settings.event_source]}


def test_the_mapping_reads_the_tables_stream_through_the_contracts_filter(
    template: Template, settings: StageSettings
) -> None:
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    function_id, _ = publisher(template)
    properties = mapping(template)

    assert properties["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    assert properties["FunctionName"] == {"Ref": function_id}
    # The same patterns make local's poller applies, from the same published kinds.
    assert [json.loads(f["Pattern"]) for f in properties["FilterCriteria"]["Filters"]] == (
        contract.stream_filter_patterns(settings.published_kinds)
    )
    assert len(properties["FilterCriteria"]["Filters"]) <= 5  # Lambda's limit per mapping


def test_the_mapping_batches_bisects_retries_a_bounded_number_of_times_and_reports_items(
    template: Template,
) -> None:
    properties = mapping(template)

    assert properties["StartingPosition"] == "TRIM_HORIZON"
    assert properties["BatchSize"] == contract.STREAM_BATCH_SIZE
    assert properties["MaximumBatchingWindowInSeconds"] == 1
    assert properties["BisectBatchOnFunctionError"] is True
    assert properties["MaximumRetryAttempts"] == contract.STREAM_RETRY_ATTEMPTS
    assert 0 < contract.STREAM_RETRY_ATTEMPTS <= 10
    # Below the stream's 24 h, so a failed record can still be read from the stream afterwards.
    assert properties["MaximumRecordAgeInSeconds"] == 6 * 3600
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "ParallelizationFactor" not in properties  # one batch per shard at a time: order kept


def test_what_still_fails_goes_to_an_encrypted_ssl_only_queue(template: Template, stage: str) -> None:
    queue_id = on_failure_queue_id(template)
    queue = template.to_json()["Resources"][queue_id]

    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["DeletionPolicy"] == ("Retain" if stage == "prod" else "Delete")
    assert_ssl_only(template, queue_id)


def assert_ssl_only(template: Template, queue_id: str) -> None:
    (policy,) = [
        body
        for body in template.find_resources("AWS::SQS::QueuePolicy").values()
        if body["Properties"]["Queues"] == [{"Ref": queue_id}]
    ]
    assert {
        "Action": "sqs:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
    } in policy["Properties"]["PolicyDocument"]["Statement"]


def test_the_function_is_told_the_bus_the_source_and_the_kinds(
    template: Template, settings: StageSettings
) -> None:
    bus_id, _ = only(template, "AWS::Events::EventBus")
    _, function = publisher(template)
    variables = function["Properties"]["Environment"]["Variables"]

    assert variables == {
        **settings.publisher_environment(),
        str(PublisherSettings.model_fields["event_bus_name"].alias): {"Ref": bus_id},
        "POWERTOOLS_SERVICE_NAME": contract.SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": contract.METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": settings.log_level,
    }
    deployed = {name: value if isinstance(value, str) else "bus" for name, value in variables.items()}
    read = PublisherSettings.from_env(deployed)
    assert (read.event_source, read.published_kinds) == (settings.event_source, settings.published_kinds)


def test_the_function_shares_the_lambda_defaults(template: Template, stage: str) -> None:
    _, ingest = function_with_handler(template, "cmc_webhooks.handlers.api.lambda_handler")
    _, function = publisher(template)
    properties = function["Properties"]

    for key in ("Runtime", "Architectures", "TracingConfig", "Layers", "Code"):
        assert properties[key] == ingest["Properties"][key], key
    assert properties["Timeout"] == 60
    assert properties["MemorySize"] == 256
    # Its own log group and role, not the ingest function's.
    assert properties["LoggingConfig"] != ingest["Properties"]["LoggingConfig"]
    assert properties["Role"] != ingest["Properties"]["Role"]
    log_group = template.to_json()["Resources"][properties["LoggingConfig"]["LogGroup"]["Ref"]]
    assert log_group["Properties"]["RetentionInDays"] == LOG_RETENTION_DAYS[stage]


def test_its_role_may_put_events_on_its_bus_only(template: Template) -> None:
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    bus_id, _ = only(template, "AWS::Events::EventBus")
    _, function = publisher(template)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    log_group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    queue_id = on_failure_queue_id(template)

    role = template.to_json()["Resources"][role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
    ]
    assert "ManagedPolicyArns" not in role
    assert "Policies" not in role
    assert statements_of_role(template, role_id) == [
        [
            {
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [log_group_id, "Arn"]},
            },
            # ListStreams (for the mapping) and X-Ray take no resource.
            {
                "Action": ["dynamodb:ListStreams", "xray:PutTelemetryRecords", "xray:PutTraceSegments"],
                "Effect": "Allow",
                "Resource": "*",
            },
            # The mapping: sends failed records' locations to the on-failure queue, reads the stream.
            {
                "Action": ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"],
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
            },
            {
                "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [table_id, "StreamArn"]},
            },
            # The function itself: PutEvents on its bus, nothing else, and no table access.
            {"Action": "events:PutEvents", "Effect": "Allow", "Resource": {"Fn::GetAtt": [bus_id, "Arn"]}},
        ]
    ]


def test_nothing_but_the_mapping_invokes_it(template: Template) -> None:
    function_id, _ = publisher(template)
    arn = {"Fn::GetAtt": [function_id, "Arn"]}

    assert not [
        permission
        for permission in template.find_resources("AWS::Lambda::Permission").values()
        if permission["Properties"]["FunctionName"] in (arn, {"Ref": function_id})
    ]
