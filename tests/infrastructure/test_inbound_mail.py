"""Inbound mail's bucket, grants, routes and alarm, as synthesized."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template

from cmc_webhooks import contract
from infra.settings import StageSettings
from infra.stack import CmcWebhooksStack
from tests.infrastructure.conftest import one_bucket, only
from tests.infrastructure.test_webhook_api import method


def statements(template: Template, role_prefix: str) -> list[dict[str, Any]]:
    """Every policy statement attached to the role whose logical id starts with `role_prefix`."""
    roles = [rid for rid in template.find_resources("AWS::IAM::Role") if rid.startswith(role_prefix)]
    (role,) = roles
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def test_the_bucket_is_private_tls_only_encrypted_and_expires_with_the_retention(
    template: Template, settings: StageSettings
) -> None:
    bucket_id, bucket = one_bucket(template, "InboundMail")
    properties = bucket["Properties"]

    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms"}
    (lifecycle,) = properties["LifecycleConfiguration"]["Rules"]
    assert lifecycle["ExpirationInDays"] == settings.retention_days
    assert lifecycle["Status"] == "Enabled"
    _, policy = one_bucket(template, "InboundMail", "AWS::S3::BucketPolicy")
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert policy["Properties"]["Bucket"] == {"Ref": bucket_id}


def test_with_the_customer_managed_key_the_bucket_uses_it(key_stacks: dict[str, CmcWebhooksStack]) -> None:
    template = Template.from_stack(key_stacks["prod"])
    _, bucket = one_bucket(template, "InboundMail")
    (key_id,) = [kid for kid in template.find_resources("AWS::KMS::Key") if kid.startswith("DataKey")]
    (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
    }
    assert rule["BucketKeyEnabled"] is True
    ingest = [s for s in statements(template, "IngestRole") if "kms:GenerateDataKey" in actions(s)]
    assert ingest
    # The publisher reads no object, so it needs no key use for the bucket.
    assert not any("s3:" in str(s["Action"]) for s in statements(template, "PublisherRole"))


def test_only_the_api_function_writes_and_reads_the_objects_under_their_prefix(template: Template) -> None:
    bucket_id, _ = one_bucket(template, "InboundMail")
    on_bucket = [s for s in statements(template, "IngestRole") if bucket_id in str(s["Resource"])]

    assert [actions(s) for s in on_bucket] == [{"s3:PutObject", "s3:GetObject"}]
    assert on_bucket[0]["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/inbound/*"]]}
    assert not any("s3:" in str(s["Action"]) for s in statements(template, "PublisherRole"))
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    on_table = [
        s for s in statements(template, "IngestRole") if s["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}
    ]
    assert {"dynamodb:GetItem", "dynamodb:PutItem"} <= set().union(*map(actions, on_table))


def test_the_api_function_is_told_its_bucket(template: Template) -> None:
    bucket_id, _ = one_bucket(template, "InboundMail")
    functions = template.find_resources("AWS::Lambda::Function")
    (ingest,) = [f for fid, f in functions.items() if fid.startswith("IngestFunction")]
    variables = ingest["Properties"]["Environment"]["Variables"]
    assert variables["CMC_INBOUND_BUCKET_NAME"] == {"Ref": bucket_id}


def test_the_inbound_routes_are_the_webhooks_and_the_lookups(template: Template) -> None:
    post = method(template, "POST", contract.INBOUND_WEBHOOK_PATH)["Properties"]
    get = method(template, "GET", contract.INBOUND_LOOKUP_PATH)["Properties"]
    events = method(template, "POST", contract.WEBHOOK_PATH)["Properties"]

    assert post["AuthorizationType"] == "NONE"  # CMC cannot sign; the function authenticates
    assert post["Integration"] == events["Integration"]
    assert get["AuthorizationType"] == "AWS_IAM"
    assert get["RequestParameters"] == {"method.request.path.inbound_id": True}
    _, api = only(template, "AWS::ApiGateway::RestApi")
    assert api["Properties"]["BinaryMediaTypes"] == ["multipart/form-data"]


def test_mail_refused_as_too_large_notifies_the_alarm_topic(template: Template) -> None:
    alarms = [
        alarm["Properties"]
        for alarm in template.find_resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == contract.Metric.INBOUND_TOO_LARGE
    ]
    (alarm,) = alarms
    topic_id, _ = only(template, "AWS::SNS::Topic")
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]


def test_the_stream_mapping_passes_new_inbound_items(template: Template) -> None:
    (mapping,) = [
        mapping
        for mapping in template.find_resources("AWS::Lambda::EventSourceMapping").values()
        if mapping["Properties"]["FunctionName"]["Ref"].startswith("PublisherFunction")
    ]
    patterns = [f["Pattern"] for f in mapping["Properties"]["FilterCriteria"]["Filters"]]
    assert '{"eventName":["INSERT"],"dynamodb":{"NewImage":{"sk":{"S":["INBOUND"]}}}}' in patterns
