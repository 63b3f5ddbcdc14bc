"""The Lambda defaults every function of this app shares, named once.

Each function gets: the runtime code asset (lambda_src/ as sources: infra/asset_build.py), Python 3.13
on arm64, the AWS-managed Powertools layer of the stage's pinned release, resolved at deploy time from
AWS's public SSM parameter, its own IAM role, its own log group, active X-Ray tracing, and the
Powertools environment (service, metrics namespace, log level).
Every function of the stack is one: the ingest (API) function, the stream publisher and the suppression
tracker subclass it; the reconciliation and the spill drain build one. Each adds its handler, sizing,
environment and grants.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Acknowledgment, CfnResource, Duration, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from cmc_webhooks import contract
from infra.asset_build import ASSET_DIR, ASSET_EXCLUDE
from infra.guard_rails import LAMBDA_IN_VPC, acknowledge
from infra.log_groups import log_group
from infra.settings import StageSettings

# Python 3.13: the Python the runtime tests also run on (`make test`, target runtime-3.13). AWS also
# publishes the Powertools layer for 3.14; moving means changing this line and that Makefile target.
RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
# AWS publishes the layer ARN per architecture, runtime and release under this public SSM path.
POWERTOOLS_LAYER_PARAMETER = "/aws/service/powertools/python/{arch}/{runtime}/{version}"


def powertools_environment(log_level: str) -> dict[str, str]:
    """What every function's Powertools Logger, Metrics and Tracer read."""
    return {
        "POWERTOOLS_SERVICE_NAME": contract.SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": contract.METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": log_level,
    }


class PowertoolsFunction(Construct):
    """A function with its own role and log group; `.function`, `.role` and `.log_group` for grants."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        description: str,
        handler: str,
        memory_size: int,
        timeout: Duration,
        environment: Mapping[str, str],
        settings: StageSettings,
        encryption_key: kms.IKey | None = None,
        extra_wildcard_reason: str = "",
    ) -> None:
        """`settings` gives the log level, the log retention, the removal policy and the Powertools release;
        `encryption_key` encrypts the log group (None: CloudWatch Logs' own encryption).
        `extra_wildcard_reason` explains any further `Resource: *` a grant adds to this role (cdk-nag
        IAM5 is acknowledged once per role, so every reason for it belongs in that one acknowledgment)."""
        super().__init__(scope, construct_id)
        self.log_group = log_group(
            self,
            "LogGroup",
            retention=settings.log_retention_days,
            removal_policy=settings.removal_policy,
            encryption_key=encryption_key,
        )
        # Its own role: the function's grants land on it alone.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=description,
        )
        self.log_group.grant_write(self.role)
        # The same path in every function: CDK makes one template parameter for all of them.
        layer_arn = ssm.StringParameter.value_for_string_parameter(
            self,
            POWERTOOLS_LAYER_PARAMETER.format(
                arch=ARCHITECTURE.name, runtime=RUNTIME.name, version=settings.powertools_layer_version
            ),
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=lambda_.Code.from_asset(str(ASSET_DIR), exclude=ASSET_EXCLUDE),
            layers=[lambda_.LayerVersion.from_layer_version_arn(self, "PowertoolsLayer", layer_arn)],
            memory_size=memory_size,
            timeout=timeout,
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={**environment, **powertools_environment(settings.log_level)},
        )
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason=f"Active tracing of {self.node.id} adds xray:PutTraceSegments and "
                "xray:PutTelemetryRecords to this role; X-Ray supports no resource-level permissions "
                "for them, so the resource must be *"
                + (f". {extra_wildcard_reason}" if extra_wildcard_reason else ""),
            )
        )
        Validations.of(self.function).acknowledge(
            Acknowledgment(
                id="AwsSolutions-L1",
                reason=f"The {self.node.id} function stays on Python 3.13, the version the runtime's unit "
                "and integration tests run on (make test, runtime-3.13), until both move to 3.14 together",
            )
        )
        acknowledge(
            self.function,
            LAMBDA_IN_VPC,
            f"The {self.node.id} function calls only AWS APIs (DynamoDB, Secrets Manager, EventBridge) and "
            "reaches no private resource; inside a VPC it would need a NAT gateway or an interface endpoint "
            "per service, at a monthly cost, for no access it lacks now",
        )
        # CDK adds an explicit DependsOn on the role that the Role's GetAtt already implies; cfn-lint
        # warns about it (W3005). Ignored on this resource only, since CDK itself generates it.
        cfn_function = self.function.node.default_child
        assert isinstance(cfn_function, CfnResource)
        cfn_function.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
