"""The suppression tracker as synthesized: its own mapping on the stream with the contract's filters (the
stream's only other reader is the publisher), its environment, and table access limited to what it calls."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template

from cmc_dev.fanout import matches
from cmc_webhooks import contract
from cmc_webhooks.settings import TrackerSettings
from infra.settings import SubscriberRule
from tests.infrastructure.conftest import function_with_handler, only, statements_of_role

HANDLER = "cmc_webhooks.handlers.suppression_tracker.lambda_handler"
INGEST_HANDLER = "cmc_webhooks.handlers.api.lambda_handler"
PUBLISHER_HANDLER = "cmc_webhooks.handlers.publisher.lambda_handler"


def tracker_mapping(template: Template) -> dict[str, Any]:
    function_id, _ = function_with_handler(template, HANDLER)
    (properties,) = [
        body["Properties"]
        for body in template.find_resources("AWS::Lambda::EventSourceMapping").values()
        if body["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    return dict(properties)


def test_its_mapping_reads_the_stream_through_the_contracts_filters(template: Template) -> None:
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    properties = tracker_mapping(template)

    assert properties["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    assert properties["StartingPosition"] == "TRIM_HORIZON"
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["MaximumRetryAttempts"] == contract.STREAM_RETRY_ATTEMPTS
    filters = [json.loads(entry["Pattern"]) for entry in properties["FilterCriteria"]["Filters"]]
    assert filters == contract.suppression_filter_patterns()
    assert len(filters) <= 5  # a mapping takes at most 5 filters


def test_the_stream_has_two_readers_the_publisher_and_the_tracker(template: Template) -> None:
    """AWS advises at most two readers per stream shard: a third would be throttled."""
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    stream_arn = {"Fn::GetAtt": [table_id, "StreamArn"]}
    readers = [
        body["Properties"]["FunctionName"]
        for body in template.find_resources("AWS::Lambda::EventSourceMapping").values()
        if body["Properties"]["EventSourceArn"] == stream_arn
    ]

    assert sorted(reader["Ref"] for reader in readers) == sorted(
        function_with_handler(template, handler)[0] for handler in (PUBLISHER_HANDLER, HANDLER)
    )


def test_every_new_delivery_event_reaches_it_for_the_day_counters() -> None:
    """The reconciliation's counters count deliveries of every status, not only those that change a state."""
    for status in ("queued", "deferred", "succeeded", "failed"):
        image = {
            contract.SORT_KEY: {"S": "EVENT#2026-01-01T00:00:00Z#e1"},
            "event_type": {"S": "deliveries"},
            "status": {"S": status},
        }
        record = {"eventName": "INSERT", "dynamodb": {"NewImage": image}}
        assert any(matches(pattern, record) for pattern in contract.suppression_filter_patterns()), status


def test_its_environment_names_the_table_the_bus_and_the_rules(template: Template) -> None:
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    bus_id, _ = only(template, "AWS::Events::EventBus")
    _, function = function_with_handler(template, HANDLER)
    variables = function["Properties"]["Environment"]["Variables"]
    names = TrackerSettings.model_fields

    assert variables[names["table_name"].alias] == {"Ref": table_id}
    assert variables[names["event_bus_name"].alias] == {"Ref": bus_id}
    for field in (
        "soft_bounce_threshold",
        "soft_bounce_window_days",
        "suppress_on_hard_bounce",
        "retention_days",
    ):
        assert names[field].alias in variables


def test_its_role_reaches_the_table_its_index_and_the_bus_only(template: Template) -> None:
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    bus_id, _ = only(template, "AWS::Events::EventBus")
    _, function = function_with_handler(template, HANDLER)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [statement for policy in statements_of_role(template, role_id) for statement in policy]
    table_arn = {"Fn::GetAtt": [table_id, "Arn"]}

    assert {
        "Action": ["dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"],
        "Effect": "Allow",
        "Resource": table_arn,
    } in statements
    assert {"Action": "events:PutEvents", "Effect": "Allow", "Resource": {"Fn::GetAtt": [bus_id, "Arn"]}} in (
        statements
    )
    table_actions = {
        action
        for statement in statements
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        if action.startswith("dynamodb:")
    }
    assert "dynamodb:Scan" not in table_actions
    assert "dynamodb:DeleteItem" not in table_actions


def test_the_api_function_may_store_decisions_and_read_the_suppressed_index(template: Template) -> None:
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    _, function = function_with_handler(template, INGEST_HANDLER)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [statement for policy in statements_of_role(template, role_id) for statement in policy]
    table_arn = {"Fn::GetAtt": [table_id, "Arn"]}
    index_arn = {"Fn::Join": ["", [table_arn, f"/index/{contract.SUPPRESSED_INDEX}"]]}

    assert {
        "Action": ["dynamodb:PutItem", "dynamodb:Query"],
        "Effect": "Allow",
        "Resource": [table_arn, index_arn],
    } in statements


def test_a_subscriber_can_take_only_the_suppression_changes() -> None:
    rule = SubscriberRule(detail_types=("Recipient Suppressed", "Recipient Unsuppressed"))
    assert rule.event_pattern("customers-mail-cloud") == {
        "source": ["customers-mail-cloud"],
        "detail-type": ["Recipient Suppressed", "Recipient Unsuppressed"],
    }
