"""The REST API: routes and their authorization, validation, throttling, logging and metrics."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from cmc_webhooks import contract
from infra.settings import StageSettings
from tests.infrastructure.conftest import (
    ALLOWED_SOURCE_CIDRS,
    LOG_RETENTION_DAYS,
    TEST_STAGES,
    build_stack,
    only,
)


def method(template: Template, http_method: str, path: str) -> dict[str, Any]:
    """The AWS::ApiGateway::Method for `http_method path`, found through its resource's path parts."""
    resources = template.find_resources("AWS::ApiGateway::Resource")
    parts = path.strip("/").split("/")
    resource_id = None
    for part in parts:
        parent = (
            {"Ref": resource_id}
            if resource_id
            else {"Fn::GetAtt": [only(template, "AWS::ApiGateway::RestApi")[0], "RootResourceId"]}
        )
        (resource_id,) = [
            rid
            for rid, body in resources.items()
            if body["Properties"]["PathPart"] == part and body["Properties"]["ParentId"] == parent
        ]
    (found,) = [
        body
        for body in template.find_resources("AWS::ApiGateway::Method").values()
        if body["Properties"]["HttpMethod"] == http_method
        and body["Properties"]["ResourceId"] == {"Ref": resource_id}
    ]
    return dict(found)


def test_the_webhook_route_has_no_api_gateway_authorizer_since_the_function_authenticates(
    template: Template,
) -> None:
    # CMC presents BASIC credentials or an api_key, which the function checks against the secret
    # (test_webhook_auth.py); IAM or Cognito is nothing CMC can do.
    properties = method(template, "POST", contract.WEBHOOK_PATH)["Properties"]

    assert properties["AuthorizationType"] == "NONE"
    assert properties["Integration"]["Type"] == "AWS_PROXY"


def test_the_webhook_body_is_left_to_the_function(template: Template) -> None:
    properties = method(template, "POST", contract.WEBHOOK_PATH)["Properties"]

    # Form-encoded, JSON, base64: the function decodes and validates every shape CMC sends.
    assert "RequestModels" not in properties
    assert "RequestValidatorId" not in properties
    assert not template.find_resources("AWS::ApiGateway::Model")


def test_the_lookup_route_needs_iam_authorization_and_its_path_parameter(template: Template) -> None:
    properties = method(template, "GET", contract.MESSAGE_LOOKUP_PATH)["Properties"]
    validator_id, validator = only(template, "AWS::ApiGateway::RequestValidator")

    assert validator["Properties"] == {
        "RestApiId": {"Ref": only(template, "AWS::ApiGateway::RestApi")[0]},
        "ValidateRequestBody": False,
        "ValidateRequestParameters": True,
    }
    assert properties["AuthorizationType"] == "AWS_IAM"
    assert properties["RequestParameters"] == {"method.request.path.message_id": True}
    assert properties["RequestValidatorId"] == {"Ref": validator_id}
    assert properties["Integration"]["Type"] == "AWS_PROXY"


def test_the_recipient_route_needs_iam_authorization_and_its_path_parameter(template: Template) -> None:
    properties = method(template, "GET", contract.RECIPIENT_LOOKUP_PATH)["Properties"]
    lookup = method(template, "GET", contract.MESSAGE_LOOKUP_PATH)["Properties"]
    validator_id, _ = only(template, "AWS::ApiGateway::RequestValidator")

    assert properties["AuthorizationType"] == "AWS_IAM"
    assert properties["RequestParameters"] == {"method.request.path.address": True}
    assert properties["RequestValidatorId"] == {"Ref": validator_id}
    # The same function serves it, through the same proxy integration as the message lookup.
    assert properties["Integration"] == lookup["Integration"]
    assert properties["Integration"]["Type"] == "AWS_PROXY"


@pytest.mark.parametrize("path", [contract.MESSAGES_BY_API_DATA_PATH, contract.RECIPIENTS_PATH])
def test_the_query_parameter_lookups_need_iam_authorization(template: Template, path: str) -> None:
    properties = method(template, "GET", path)["Properties"]
    lookup = method(template, "GET", contract.MESSAGE_LOOKUP_PATH)["Properties"]

    assert properties["AuthorizationType"] == "AWS_IAM"
    # GET /messages takes api_data or message_id: the function checks which, and answers a 400 naming them.
    assert properties.get("RequestParameters", {}) == {}
    assert properties["Integration"] == lookup["Integration"]


def test_no_other_methods_exist(template: Template) -> None:
    methods = {
        body["Properties"]["HttpMethod"]
        for body in template.find_resources("AWS::ApiGateway::Method").values()
    }
    assert methods == {"POST", "GET", "PUT", "DELETE"}
    assert len(template.find_resources("AWS::ApiGateway::Method")) == 10


def test_stage_throttles_logs_and_measures(template: Template, settings: StageSettings) -> None:
    _, stage = only(template, "AWS::ApiGateway::Stage")
    properties = stage["Properties"]

    assert properties["StageName"] == settings.stage
    assert properties["TracingEnabled"] is True
    assert properties["MethodSettings"] == [
        {
            "DataTraceEnabled": False,
            "HttpMethod": "*",
            "LoggingLevel": "ERROR",
            "MetricsEnabled": True,
            "ResourcePath": "/*",
            "ThrottlingBurstLimit": settings.throttling_burst_limit,
            "ThrottlingRateLimit": settings.throttling_rate_limit,
        }
    ]


def test_access_logs_go_to_a_log_group_with_the_stage_retention(template: Template, stage: str) -> None:
    _, api_stage = only(template, "AWS::ApiGateway::Stage")
    access_logs = api_stage["Properties"]["AccessLogSetting"]
    log_group_ref = access_logs["DestinationArn"]["Fn::Join"][1][-1]

    log_group = template.to_json()["Resources"][log_group_ref["Ref"]]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == LOG_RETENTION_DAYS[stage]
    assert '"status":"$context.status"' in access_logs["Format"]
    assert '"ip":"$context.identity.sourceIp"' in access_logs["Format"]


def test_api_is_regional(template: Template) -> None:
    _, api = only(template, "AWS::ApiGateway::RestApi")
    assert api["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}


def test_api_gateways_logging_role_has_only_its_push_to_cloudwatch_policy(template: Template) -> None:
    _, account = only(template, "AWS::ApiGateway::Account")
    role_id = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    role = template.to_json()["Resources"][role_id]

    assert role["DeletionPolicy"] == "Retain"  # an account-wide setting outlives one stack
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}}
    ]
    (managed_policy,) = role["Properties"]["ManagedPolicyArns"]
    assert managed_policy["Fn::Join"][1][-1].endswith(
        ":iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
    )
    assert "Policies" not in role["Properties"]
    assert not [
        policy
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
    ]


# The two routes CMC posts to: events and inbound mail.
WEBHOOK_METHOD = ["execute-api:/*/POST/webhooks/events", "execute-api:/*/POST/webhooks/inbound"]


def test_without_an_allowlist_the_api_has_no_resource_policy(dev: Template) -> None:
    _, api = only(dev, "AWS::ApiGateway::RestApi")
    assert "Policy" not in api["Properties"]


def test_the_allowlist_denies_other_sources_the_webhook_routes_only(prod: Template) -> None:
    _, api = only(prod, "AWS::ApiGateway::RestApi")

    assert api["Properties"]["Policy"]["Statement"] == [
        # An unauthenticated route needs an explicit Allow once the API has a resource policy...
        {
            "Action": "execute-api:Invoke",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Resource": WEBHOOK_METHOD,
        },
        # ...and every source outside the allowlist is denied it.
        {
            "Action": "execute-api:Invoke",
            "Condition": {"NotIpAddress": {"aws:SourceIp": ALLOWED_SOURCE_CIDRS}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": WEBHOOK_METHOD,
        },
    ]
    # No statement names the GET lookups: callers of this account stay governed by their IAM policies
    # alone, and no other account gains access (an Allow to "*" there would grant it).
    assert "GET" not in str(api["Properties"]["Policy"])
    assert method(prod, "GET", contract.MESSAGE_LOOKUP_PATH)["Properties"]["AuthorizationType"] == "AWS_IAM"
    assert method(prod, "GET", contract.RECIPIENT_LOOKUP_PATH)["Properties"]["AuthorizationType"] == "AWS_IAM"


def test_changing_the_allowlist_redeploys_the_stage() -> None:
    # API Gateway applies a changed resource policy only with a new deployment.
    def deployment_id(cidrs: list[str]) -> str:
        stages = {"dev": TEST_STAGES["dev"] | {"allowed_source_cidrs": cidrs}}
        deployment_id, _ = only(
            Template.from_stack(build_stack({"stages": stages})), "AWS::ApiGateway::Deployment"
        )
        return deployment_id

    ids = {deployment_id([]), deployment_id(["192.0.2.0/24"]), deployment_id(["192.0.2.0/25"])}
    assert len(ids) == 3


def test_without_a_rate_limit_there_is_no_web_acl(dev: Template) -> None:
    assert not dev.find_resources("AWS::WAFv2::WebACL")
    assert not dev.find_resources("AWS::WAFv2::WebACLAssociation")


def test_the_web_acl_blocks_a_source_ip_above_the_rate_limit_and_nothing_else(prod: Template) -> None:
    _, web_acl = only(prod, "AWS::WAFv2::WebACL")
    properties = web_acl["Properties"]

    assert properties["Scope"] == "REGIONAL"
    assert properties["DefaultAction"] == {"Allow": {}}
    (rule,) = properties["Rules"]
    assert rule["Action"] == {"Block": {}}
    assert rule["Statement"] == {
        "RateBasedStatement": {
            "AggregateKeyType": "IP",
            "EvaluationWindowSec": 300,
            "Limit": TEST_STAGES["prod"]["waf_rate_limit_per_5min"],
        }
    }
    # Metrics, but no sampled requests (they would keep request headers, Authorization among them).
    for visibility in (properties["VisibilityConfig"], rule["VisibilityConfig"]):
        assert visibility["CloudWatchMetricsEnabled"] is True
        assert visibility["SampledRequestsEnabled"] is False


def test_the_web_acl_is_associated_with_the_api_stage(prod: Template) -> None:
    web_acl_id, _ = only(prod, "AWS::WAFv2::WebACL")
    api_id, _ = only(prod, "AWS::ApiGateway::RestApi")
    stage_id, _ = only(prod, "AWS::ApiGateway::Stage")
    _, association = only(prod, "AWS::WAFv2::WebACLAssociation")

    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [web_acl_id, "Arn"]}
    assert association["Properties"]["ResourceArn"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":apigateway:",
                {"Ref": "AWS::Region"},
                "::/restapis/",
                {"Ref": api_id},
                "/stages/",
                {"Ref": stage_id},
            ],
        ]
    }
