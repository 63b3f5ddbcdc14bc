"""The Lambda function behind both API routes: stores webhook events and answers lookups."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Acknowledgment, CfnResource, Duration, RemovalPolicy, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from cmc_webhooks import contract

# The asset is the runtime code only: boto3 comes with the runtime, Powertools (with pydantic and the
# X-Ray SDK) with the AWS-managed layer, so nothing is bundled and no Docker is needed.
ASSET_DIR = Path(__file__).resolve().parent.parent / "lambda_src"
ASSET_EXCLUDE = ["requirements.txt", "**/__pycache__", "**/*.pyc"]
HANDLER = "cmc_webhooks.handlers.api.lambda_handler"

# Python 3.13: the Python the runtime tests also run on (`make test`, target runtime-3.13). AWS also
# publishes the Powertools layer for 3.14; moving means changing this line and that Makefile target.
RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
# AWS publishes the layer ARN per architecture, runtime and release under this public SSM path.
POWERTOOLS_LAYER_PARAMETER = "/aws/service/powertools/python/{arch}/{runtime}/{version}"

# 512 MB: Lambda allots CPU in proportion to memory. A POST of up to max_records_per_request records
# is decoded and validated with pydantic and written in parallel BatchWriteItem calls; 512 MB keeps
# cold starts (Powertools + pydantic imports) and big batches quick, and holds API Gateway's largest
# body (10 MB) with its parsed models several times over. 128 MB would make CPU the bottleneck.
MEMORY_MB = 512
# 25 s: below API Gateway's 29 s integration timeout, so a stuck invocation ends as a Lambda timeout
# (logged and traced; API Gateway answers 5xx, so CMC may retry, and writes are idempotent) before
# API Gateway cuts the connection. It leaves room for the adapter's retries of unprocessed items (at
# most ~7 s of backoff per chunk, chunks in parallel) on top of botocore's own retries.
TIMEOUT = Duration.seconds(25)


class IngestFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table_name: str,
        time_zone: str,
        retention_days: int,
        max_records_per_request: int,
        log_level: str,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        powertools_layer_version: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self, "LogGroup", retention=log_retention, removal_policy=removal_policy
        )
        # Its own role: the function's grants (logs here, DynamoDB in the stack) land on it alone.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="CMC webhook ingest/lookup function: its log group, X-Ray, and the event table",
        )
        self.log_group.grant_write(self.role)
        layer_arn = ssm.StringParameter.value_for_string_parameter(
            self,
            POWERTOOLS_LAYER_PARAMETER.format(
                arch=ARCHITECTURE.name, runtime=RUNTIME.name, version=powertools_layer_version
            ),
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description="Stores Customers Mail Cloud webhook events and answers lookups by messageId",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(ASSET_DIR), exclude=ASSET_EXCLUDE),
            layers=[lambda_.LayerVersion.from_layer_version_arn(self, "PowertoolsLayer", layer_arn)],
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                contract.ENV_TABLE_NAME: table_name,
                contract.ENV_TIME_ZONE: time_zone,
                contract.ENV_RETENTION_DAYS: str(retention_days),
                contract.ENV_MAX_RECORDS: str(max_records_per_request),
                "POWERTOOLS_SERVICE_NAME": contract.SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": contract.METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": log_level,
            },
        )
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="Active tracing adds xray:PutTraceSegments and xray:PutTelemetryRecords to this role; "
                "X-Ray supports no resource-level permissions for them, so the resource must be *",
            )
        )
        Validations.of(self.function).acknowledge(
            Acknowledgment(
                id="AwsSolutions-L1",
                reason="The ingest function stays on Python 3.13, the version its unit and integration "
                "tests run on (make test, runtime-3.13), until both move to 3.14 together",
            )
        )
        # CDK adds an explicit DependsOn on the role that the Role's GetAtt already implies; cfn-lint
        # warns about it (W3005). Ignored on this resource only, since CDK itself generates it.
        cfn_function = self.function.node.default_child
        assert isinstance(cfn_function, CfnResource)
        cfn_function.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
