"""The ingest/lookup function: runtime, layer, env, logging, tracing, and a role with only its actions."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match, Template

from cmc_webhooks import contract
from cmc_webhooks.settings import IngestSettings, IngestTunables
from infra.settings import StageSettings
from tests.infrastructure.conftest import (
    LOG_RETENTION_DAYS,
    function_with_handler,
    one_bucket,
    only,
    statements_of_role,
    webhook_secret,
)


def alias(field: str) -> str:
    """The environment variable the function reads the field from."""
    return str(IngestSettings.model_fields[field].alias)


def ingest(template: Template) -> tuple[str, dict[str, Any]]:
    return function_with_handler(template, "cmc_webhooks.handlers.api.lambda_handler")


def test_python_3_13_on_arm64_with_active_tracing(template: Template) -> None:
    _, function = ingest(template)
    properties = function["Properties"]

    assert properties["Runtime"] == "python3.13"
    assert properties["Architectures"] == ["arm64"]
    assert properties["Handler"] == "cmc_webhooks.handlers.api.lambda_handler"
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert properties["MemorySize"] == 512


def test_timeout_ends_before_api_gateways_29_second_integration_timeout(template: Template) -> None:
    _, function = ingest(template)
    assert 10 <= function["Properties"]["Timeout"] < 29


def test_powertools_layer_comes_from_awss_public_parameter_at_deploy_time(
    template: Template, settings: StageSettings
) -> None:
    _, function = ingest(template)
    layers = function["Properties"]["Layers"]

    assert len(layers) == 1
    assert template.to_json()["Parameters"][layers[0]["Ref"]] == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": f"/aws/service/powertools/python/arm64/python3.13/{settings.powertools_layer_version}",
    }


def test_environment_is_the_stage_settings_the_table_and_the_secret(
    template: Template, settings: StageSettings
) -> None:
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    secret_id, _ = webhook_secret(template)
    spill_bucket_id, _ = one_bucket(template, "Spill")
    (spill_queue_id,) = [
        name for name in template.find_resources("AWS::SQS::Queue") if name.startswith("SpillQueue")
    ]
    _, function = ingest(template)
    variables = function["Properties"]["Environment"]["Variables"]

    assert variables == {
        **settings.ingest_environment(),
        alias("table_name"): {"Ref": table_id},
        # The generated secret's full ARN (Ref), which GetSecretValue takes as its SecretId.
        alias("auth_secret_name"): {"Ref": secret_id},
        alias("inbound_bucket_name"): {"Ref": one_bucket(template, "InboundMail")[0]},
        # Where a webhook the table refuses goes (tests/infrastructure/test_spill.py).
        alias("spill_queue_url"): {"Ref": spill_queue_id},
        alias("spill_bucket_name"): {"Ref": spill_bucket_id},
        "POWERTOOLS_SERVICE_NAME": contract.SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": contract.METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": settings.log_level,
    }


def test_the_function_reads_back_the_stage_settings(template: Template, settings: StageSettings) -> None:
    _, function = ingest(template)
    variables = function["Properties"]["Environment"]["Variables"]
    deployed = {
        name: value if isinstance(value, str) else "resolved-at-deploy" for name, value in variables.items()
    }

    read = IngestSettings.from_env(deployed)

    for name in IngestTunables.model_fields:
        assert getattr(read, name) == getattr(settings, name), name
    assert read.table_name == read.auth_secret_name == "resolved-at-deploy"


def test_logs_go_to_its_own_log_group_with_the_stage_retention(template: Template, stage: str) -> None:
    _, function = ingest(template)
    log_group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]

    log_group = template.to_json()["Resources"][log_group_id]
    assert log_group["Properties"]["RetentionInDays"] == LOG_RETENTION_DAYS[stage]
    assert log_group["DeletionPolicy"] == ("Retain" if stage == "prod" else "Delete")


def test_its_role_allows_exactly_the_calls_the_function_makes(template: Template) -> None:
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    secret_id, _ = webhook_secret(template)
    spill_bucket_id, _ = one_bucket(template, "Spill")
    (spill_queue_id,) = [
        name for name in template.find_resources("AWS::SQS::Queue") if name.startswith("SpillQueue")
    ]
    _, function = ingest(template)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    log_group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]

    role = template.to_json()["Resources"][role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
    ]
    assert "ManagedPolicyArns" not in role
    assert "Policies" not in role
    statements = statements_of_role(template, role_id)
    table_arn = {"Fn::GetAtt": [table_id, "Arn"]}
    assert statements == [
        [
            {
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [log_group_id, "Arn"]},
            },
            # Active tracing; X-Ray has no resource-level permissions.
            {
                "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
                "Effect": "Allow",
                "Resource": "*",
            },
            # Events: batch writes and queries; inbound mail's item: one read and one conditional put.
            {
                "Action": [
                    "dynamodb:BatchWriteItem",
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:Query",
                ],
                "Effect": "Allow",
                "Resource": table_arn,
            },
            {
                "Action": "dynamodb:Query",
                "Effect": "Allow",
                "Resource": [
                    {"Fn::Join": ["", [table_arn, f"/index/{index}"]]}
                    for index in sorted((contract.RECIPIENT_INDEX, contract.API_DATA_INDEX))
                ],
            },
            # The suppression routes: a decision is a PutItem; the list reads the suppressed index.
            {
                "Action": ["dynamodb:PutItem", "dynamodb:Query"],
                "Effect": "Allow",
                "Resource": [
                    table_arn,
                    {"Fn::Join": ["", [table_arn, f"/index/{contract.SUPPRESSED_INDEX}"]]},
                ],
            },
            # The webhook credentials: read only, that one secret only.
            {"Action": "secretsmanager:GetSecretValue", "Effect": "Allow", "Resource": {"Ref": secret_id}},
            # Inbound mail's objects, under their prefix only (test_inbound_mail.py).
            {
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Effect": "Allow",
                "Resource": {
                    "Fn::Join": [
                        "",
                        [
                            {
                                "Fn::GetAtt": [
                                    one_bucket(template, "InboundMail")[0],
                                    "Arn",
                                ]
                            },
                            "/inbound/*",
                        ],
                    ]
                },
            },
            # The spill: send to its queue, put under spilled/ in its bucket, no more.
            {
                "Action": "sqs:SendMessage",
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [spill_queue_id, "Arn"]},
            },
            {
                "Action": "s3:PutObject",
                "Effect": "Allow",
                "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [spill_bucket_id, "Arn"]}, "/spilled/*"]]},
            },
        ]
    ]


def test_only_api_gateway_may_invoke_it_and_only_on_its_routes(template: Template) -> None:
    function_id, _ = ingest(template)
    permissions = [
        permission
        for permission in template.find_resources("AWS::Lambda::Permission").values()
        if permission["Properties"]["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}
    ]

    routes = (
        "/POST/webhooks/events$",
        "/GET/messages/\\*$",
        "/GET/recipients/\\*$",
        "/GET/messages$",
        "/GET/recipients$",
        "/PUT/recipients/\\*/suppression$",
        "/DELETE/recipients/\\*/suppression$",
        "/GET/suppressions$",
        "/POST/webhooks/inbound$",
        "/GET/inbound/\\*$",
    )
    assert len(permissions) == len(routes)
    for permission in permissions:
        assert permission["Properties"]["Principal"] == "apigateway.amazonaws.com"
        assert permission["Properties"]["Action"] == "lambda:InvokeFunction"
    for route in routes:
        template.has_resource_properties(
            "AWS::Lambda::Permission",
            {
                "FunctionName": {"Fn::GetAtt": [function_id, "Arn"]},
                "SourceArn": {"Fn::Join": ["", Match.array_with([Match.string_like_regexp(route)])]},
            },
        )


def test_the_per_class_retention_and_the_recipient_index_reach_the_function(prod: Template) -> None:
    _, function = ingest(prod)
    variables = function["Properties"]["Environment"]["Variables"]
    assert (variables["CMC_RETENTION_DAYS"], variables["CMC_CLEAN_RETENTION_DAYS"]) == ("400", "45")
    assert variables["CMC_QUARANTINE_RETENTION_DAYS"] == "90"
    assert variables["CMC_RECIPIENT_INDEX"] == "suppression"
