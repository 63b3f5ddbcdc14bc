"""The spill: an encrypted queue with a dead-letter queue, an encrypted private bucket whose objects
expire, the drain function on the queue, and grants that let the API function only send and put."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match, Template

from cmc_webhooks import contract
from tests.infrastructure.conftest import function_with_handler, only, statements_of_role

DRAIN_HANDLER = "cmc_webhooks.handlers.spill_drain.lambda_handler"
INGEST_HANDLER = "cmc_webhooks.handlers.api.lambda_handler"


def logical_id(template: Template, resource_type: str, prefix: str) -> str:
    (found,) = [name for name in template.find_resources(resource_type) if name.startswith(prefix)]
    return found


def queue_ids(template: Template) -> tuple[str, str]:
    return (
        logical_id(template, "AWS::SQS::Queue", "SpillQueue"),
        logical_id(template, "AWS::SQS::Queue", "SpillDeadLetterQueue"),
    )


def actions_of(template: Template, handler: str) -> dict[str, list[Any]]:
    """{action: [resources]} of the role of the function with this handler."""
    _, function = function_with_handler(template, handler)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    found: dict[str, list[Any]] = {}
    for statements in statements_of_role(template, role_id):
        for statement in statements:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in actions:
                found.setdefault(action, []).append(statement["Resource"])
    return found


def test_the_queue_redrives_into_its_dead_letter_queue_which_allows_redrive(template: Template) -> None:
    queue_id, dlq_id = queue_ids(template)
    queue = template.find_resources("AWS::SQS::Queue")[queue_id]["Properties"]
    dlq = template.find_resources("AWS::SQS::Queue")[dlq_id]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": contract.SPILL_MAX_RECEIVE_COUNT,
    }
    assert dlq["RedriveAllowPolicy"] == {"redrivePermission": "allowAll"}
    assert queue["MessageRetentionPeriod"] == dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["VisibilityTimeout"] >= 6 * 60


def test_without_the_stages_key_the_queues_and_bucket_use_the_services_own_keys(dev: Template) -> None:
    for queue_id in queue_ids(dev):
        assert dev.find_resources("AWS::SQS::Queue")[queue_id]["Properties"]["SqsManagedSseEnabled"] is True
    _, bucket = only(dev, "AWS::S3::Bucket")
    (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


def test_with_the_stages_key_the_queues_and_bucket_use_it(key_templates: dict[str, Template]) -> None:
    for template in key_templates.values():
        key_id = logical_id(template, "AWS::KMS::Key", "DataKey")
        for queue_id in queue_ids(template):
            properties = template.find_resources("AWS::SQS::Queue")[queue_id]["Properties"]
            assert properties["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
        _, bucket = only(template, "AWS::S3::Bucket")
        (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
        }


def test_the_bucket_is_private_tls_only_and_its_objects_expire(template: Template) -> None:
    bucket_id, bucket = only(template, "AWS::S3::Bucket")
    properties = bucket["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    rules = properties["LifecycleConfiguration"]["Rules"]
    assert [rule["ExpirationInDays"] for rule in rules if rule["Status"] == "Enabled"] == [15]
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        )
                    ]
                )
            },
        },
    )


def test_the_api_function_may_only_send_to_the_queue_and_put_spilled_objects(template: Template) -> None:
    queue_id, _ = queue_ids(template)
    bucket_id, _ = only(template, "AWS::S3::Bucket")
    actions = actions_of(template, INGEST_HANDLER)
    assert actions["sqs:SendMessage"] == [{"Fn::GetAtt": [queue_id, "Arn"]}]
    assert actions["s3:PutObject"] == [{"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/spilled/*"]]}]
    assert not {action for action in actions if action.startswith("sqs:") or action.startswith("s3:")} - {
        "sqs:SendMessage",
        "s3:PutObject",
    }


def test_the_drain_reads_the_queue_and_the_bucket_and_writes_the_table(template: Template) -> None:
    queue_id, _ = queue_ids(template)
    bucket_id, _ = only(template, "AWS::S3::Bucket")
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    actions = actions_of(template, DRAIN_HANDLER)
    assert {"Fn::GetAtt": [queue_id, "Arn"]} in actions["sqs:ReceiveMessage"]
    assert {"Fn::GetAtt": [queue_id, "Arn"]} in actions["sqs:DeleteMessage"]
    assert actions["s3:GetObject"] == [{"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/spilled/*"]]}]
    assert actions["dynamodb:BatchWriteItem"] == [{"Fn::GetAtt": [table_id, "Arn"]}]
    assert "dynamodb:Query" not in actions
    assert "sqs:SendMessage" not in actions
    assert "s3:PutObject" not in actions


def test_the_drain_reports_partial_batch_failures(template: Template) -> None:
    queue_id, _ = queue_ids(template)
    drain_id, drain = function_with_handler(template, DRAIN_HANDLER)
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [queue_id, "Arn"]},
            "FunctionName": {"Ref": drain_id},
            "BatchSize": contract.SPILL_BATCH_SIZE,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    # AWS's advice: the queue hides a message handed to the function six times as long as it may run.
    visibility = template.find_resources("AWS::SQS::Queue")[queue_id]["Properties"]["VisibilityTimeout"]
    assert visibility >= 6 * drain["Properties"]["Timeout"]


def test_the_api_function_is_told_where_to_spill(template: Template) -> None:
    queue_id, _ = queue_ids(template)
    bucket_id, _ = only(template, "AWS::S3::Bucket")
    _, ingest = function_with_handler(template, INGEST_HANDLER)
    variables = ingest["Properties"]["Environment"]["Variables"]
    assert variables["CMC_SPILL_QUEUE_URL"] == {"Ref": queue_id}
    assert variables["CMC_SPILL_BUCKET_NAME"] == {"Ref": bucket_id}


def test_the_dead_letter_queue_and_spilled_webhooks_are_alarmed_on(template: Template) -> None:
    _, dlq_id = queue_ids(template)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}],
        },
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": contract.Metric.WEBHOOKS_SPILLED, "Namespace": contract.METRICS_NAMESPACE},
    )
