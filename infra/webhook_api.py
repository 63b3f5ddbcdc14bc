"""The public REST API: CMC posts webhooks to it; other systems look messages up through it."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Acknowledgment, RemovalPolicy, Stack, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from cmc_webhooks import contract
from infra.guard_rails import LAMBDA_PUBLIC_ACCESS, acknowledge
from infra.log_groups import log_group
from infra.webhook_firewall import WebhookFirewall

# The webhook route in any stage, in the short form API Gateway expands in its own resource policy (the
# API's ARN cannot be used there: the policy is part of the API).
WEBHOOK_METHOD_RESOURCE = f"execute-api:/*/POST{contract.WEBHOOK_PATH}"
INBOUND_METHOD_RESOURCE = f"execute-api:/*/POST{contract.INBOUND_WEBHOOK_PATH}"


def source_allowlist(cidrs: Sequence[str]) -> iam.PolicyDocument:
    """A resource policy that lets only `cidrs` POST webhooks. With a resource policy, API Gateway needs
    an explicit Allow for an unauthenticated route, so the webhook route gets one; the Deny removes
    every other source. The IAM-authorized lookups get no statement: for callers of this account, their
    IAM policies decide as before (an Allow to everyone there would open them to any AWS account)."""
    return iam.PolicyDocument(
        statements=[
            iam.PolicyStatement(
                effect=iam.Effect.ALLOW,
                principals=[iam.AnyPrincipal()],
                actions=["execute-api:Invoke"],
                resources=[WEBHOOK_METHOD_RESOURCE, INBOUND_METHOD_RESOURCE],
            ),
            iam.PolicyStatement(
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["execute-api:Invoke"],
                resources=[WEBHOOK_METHOD_RESOURCE, INBOUND_METHOD_RESOURCE],
                conditions={"NotIpAddress": {"aws:SourceIp": list(cidrs)}},
            ),
        ]
    )


class WebhookApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: lambda_.IFunction,
        stage_name: str,
        throttling_rate_limit: int,
        throttling_burst_limit: int,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        allowed_source_cidrs: Sequence[str] = (),
        waf_rate_limit_per_5min: int | None = None,
        log_encryption_key: kms.IKey | None = None,
    ) -> None:
        """CMC's POST has no API Gateway authorizer: the function checks its BASIC credentials or
        api_key (CMC can present nothing else). `allowed_source_cidrs` (empty: any source) and
        `waf_rate_limit_per_5min` (None: no WAF) are the optional protections in front of it.
        `log_encryption_key` encrypts the access logs (None: CloudWatch Logs' own encryption)."""
        super().__init__(scope, construct_id)
        self.access_log_group = log_group(
            self,
            "AccessLogs",
            retention=log_retention,
            removal_policy=removal_policy,
            encryption_key=log_encryption_key,
        )
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=Stack.of(self).stack_name,
            description="Receives Customers Mail Cloud webhooks and serves message lookups",
            # Regional: one caller (CMC's servers) in one place; an edge CloudFront hop adds nothing.
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # The bodies API Gateway hands over base64-encoded; the local gateway reads the same list.
            binary_media_types=list(contract.BINARY_MEDIA_TYPES) or None,
            policy=source_allowlist(allowed_source_cidrs) if allowed_source_cidrs else None,
            # Access and execution logs need API Gateway's account-level CloudWatch role; create it so a
            # fresh account works. It is account-wide, so it is kept when the stack is deleted.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=stage_name,
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
                metrics_enabled=True,
                tracing_enabled=True,
                # Execution logs for errors only; never request/response bodies (they hold addresses).
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
            ),
        )
        # API Gateway checks the required path parameter. Bodies are left to the function: CMC posts
        # form-encoded or JSON bodies (also base64, any charset), which one JSON-schema model cannot
        # describe, and the function answers 400 naming the problem.
        validator = self.api.add_request_validator(
            "RequiredParameters", validate_request_parameters=True, validate_request_body=False
        )
        Validations.of(self.api).acknowledge(
            Acknowledgment(
                id="AwsSolutions-APIG2",
                reason="This REST API validates request parameters only: CMC webhook bodies come "
                "form-encoded or as JSON, base64 or not, in any charset, so the function validates them "
                "and answers 400",
            )
        )
        integration = apigw.LambdaIntegration(handler, allow_test_invoke=False)
        self.firewall: WebhookFirewall | None = None
        if waf_rate_limit_per_5min is None:
            Validations.of(self.api.deployment_stage).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-APIG3",
                    reason="This stage's WAF web ACL is off (waf_rate_limit_per_5min is null in "
                    "cdk.json): the stage's throttling bounds the request rate and the function "
                    "authenticates every webhook; setting waf_rate_limit_per_5min associates a "
                    "rate-based web ACL",
                )
            )
        else:
            self.firewall = WebhookFirewall(
                self, "Firewall", stage=self.api.deployment_stage, rate_limit_per_5min=waf_rate_limit_per_5min
            )
        cloud_watch_role = self.api.node.find_child("CloudWatchRole")
        Validations.of(cloud_watch_role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
                reason="API Gateway's account-level CloudWatch role uses the AWS managed policy made for it; "
                "it lets API Gateway write this API's access and execution logs",
            )
        )

        self.webhook_method, self.inbound_method = (
            self._add_webhook(path, integration)
            for path in (contract.WEBHOOK_PATH, contract.INBOUND_WEBHOOK_PATH)
        )

        # The lookups: other AWS workloads and operators sign with SigV4; API Gateway checks the path
        # parameter. One function serves them all (its router picks the route).
        self.lookup_method, self.recipient_method, self.inbound_lookup_method = (
            self._add_iam_lookup(path, integration, validator)
            for path in (
                contract.MESSAGE_LOOKUP_PATH,
                contract.RECIPIENT_LOOKUP_PATH,
                contract.INBOUND_LOOKUP_PATH,
            )
        )
        # GET /messages?api_data=VALUE or ?message_id=ID, GET /recipients?address=ADDRESS: the lookups by
        # query parameter, for ids and addresses a path can't carry; the function checks the parameters.
        self.api_data_method, self.recipients_method = (
            self._add_iam_lookup(path, integration, validator)
            for path in (contract.MESSAGES_BY_API_DATA_PATH, contract.RECIPIENTS_PATH)
        )
        # Suppress and lift an address, list the suppressed ones: IAM-authorized like the lookups.
        self.suppression_methods = [
            self._add_iam_lookup(path, integration, validator, http_method=http_method)
            for http_method, path in (
                ("PUT", contract.SUPPRESSION_PATH),
                ("DELETE", contract.SUPPRESSION_PATH),
                ("GET", contract.SUPPRESSIONS_PATH),
            )
        ]

    def _add_webhook(self, path: str, integration: apigw.Integration) -> apigw.Method:
        method = self.api.root.resource_for_path(path).add_method(
            "POST", integration, authorization_type=apigw.AuthorizationType.NONE
        )
        self._acknowledge_invoke_permission(method)
        Validations.of(method).acknowledge(
            Acknowledgment(
                id="AwsSolutions-APIG4",
                reason=f"POST {path} is called by Customers Mail Cloud, which cannot sign "
                "requests with IAM; the function authenticates each webhook by its BASIC credentials or "
                "api_key, checked against the generated Secrets Manager secret, and answers 401 otherwise",
            ),
            Acknowledgment(
                id="AwsSolutions-COG4",
                reason=f"POST {path} is called by Customers Mail Cloud, which cannot "
                "present a Cognito token; the function checks its BASIC credentials or api_key instead",
            ),
        )
        return method

    def _add_iam_lookup(
        self,
        path: str,
        integration: apigw.Integration,
        validator: apigw.IRequestValidator,
        *,
        http_method: str = "GET",
    ) -> apigw.Method:
        required = [f"method.request.path.{name}" for name in re.findall(r"\{(\w+)\}", path)]
        method = self.api.root.resource_for_path(path).add_method(
            http_method,
            integration,
            request_validator=validator,
            request_parameters=dict.fromkeys(required, True),
            authorization_type=apigw.AuthorizationType.IAM,
        )
        Validations.of(method).acknowledge(
            Acknowledgment(
                id="AwsSolutions-COG4",
                reason=f"{http_method} {path} serves other AWS workloads and operators, who "
                "sign with IAM (SigV4) authorization instead of a Cognito user pool",
            )
        )
        self._acknowledge_invoke_permission(method)
        return method

    @staticmethod
    def _acknowledge_invoke_permission(method: apigw.Method) -> None:
        acknowledge(
            method,
            LAMBDA_PUBLIC_ACCESS,
            f"The permission that lets API Gateway invoke the function for {method.http_method} "
            f"{method.resource.path} carries a SourceArn (this API, its stage, method and path), which "
            "CDK builds with Fn::Join; the control reads only a literal string or a plain reference there",
        )

    @property
    def webhook_url(self) -> str:
        return self.api.url_for_path(contract.WEBHOOK_PATH)

    @property
    def inbound_webhook_url(self) -> str:
        return self.api.url_for_path(contract.INBOUND_WEBHOOK_PATH)

    @property
    def lookup_url(self) -> str:
        return self.api.url_for_path(contract.MESSAGE_LOOKUP_PATH)

    @property
    def recipient_lookup_url(self) -> str:
        return self.api.url_for_path(contract.RECIPIENT_LOOKUP_PATH)

    @property
    def suppressions_url(self) -> str:
        return self.api.url_for_path(contract.SUPPRESSIONS_PATH)
