"""The Lambda defaults every function of this app shares, named once.

Each function gets: the runtime code asset (lambda_src/, with its 3.13 bytecode: infra/asset_build.py),
Python 3.13 on arm64, the AWS-managed Powertools layer resolved at deploy time from AWS's public SSM
parameter, its own IAM role, its own log group, active X-Ray tracing, and the Powertools environment
(service, metrics namespace, log level).
The concrete functions (IngestFunction, StreamPublisher) subclass it and add their handler, sizing,
environment and grants.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import jsii
from aws_cdk import (
    Acknowledgment,
    BundlingOptions,
    CfnResource,
    DockerImage,
    Duration,
    ILocalBundling,
    RemovalPolicy,
    Validations,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from cmc_webhooks import contract
from infra.asset_build import ASSET_DIR, ASSET_EXCLUDE, build_asset, find_runtime_python

# Python 3.13: the Python the runtime tests also run on (`make test`, target runtime-3.13). AWS also
# publishes the Powertools layer for 3.14; moving means changing this line and that Makefile target.
RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
# AWS publishes the layer ARN per architecture, runtime and release under this public SSM path.
POWERTOOLS_LAYER_PARAMETER = "/aws/service/powertools/python/{arch}/{runtime}/{version}"


@jsii.implements(ILocalBundling)
class LocalAssetBuild:
    """Bundles the asset on this machine (infra/asset_build.py), never in Docker: lambda_src/ with pycs
    compiled by a python3.13 when one is found, else the sources alone. (The runtime's bundling image is
    named because BundlingOptions requires one; it is never pulled.)"""

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_options: Any) -> bool:
        python = find_runtime_python()
        if not build_asset(output_dir, python=python):
            sys.stderr.write(
                "NOTE: no python3.13 found (PATH or pyenv): the Lambda asset ships source only, so "
                "every cold start compiles it (~20-30 ms each).\n"
            )
        return True  # bundled: CDK must not fall back to Docker


def asset_code() -> lambda_.AssetCode:
    """lambda_src/ bundled by LocalAssetBuild.

    The asset hash stays SOURCE (from_asset's default when bundling): the hash of lambda_src/ (without
    the excludes) and of these options, not of the output, so the template is the same on a machine
    with a python3.13 and on one without (whose asset has no pycs, and whose cold starts are slower).
    The other side of it: an asset already uploaded under that hash is not uploaded again, pycs or not.
    """
    return lambda_.Code.from_asset(
        str(ASSET_DIR),
        exclude=ASSET_EXCLUDE,
        bundling=BundlingOptions(image=RUNTIME.bundling_image, local=LocalAssetBuild()),
    )


def powertools_environment(log_level: str) -> dict[str, str]:
    """What every function's Powertools Logger, Metrics and Tracer read, and the runtime settings."""
    return {
        "POWERTOOLS_SERVICE_NAME": contract.SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": contract.METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": log_level,
        **contract.RUNTIME_ENVIRONMENT,
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
        log_level: str,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        powertools_layer_version: str,
        extra_wildcard_reason: str = "",
    ) -> None:
        """`extra_wildcard_reason` explains any further `Resource: *` a grant adds to this role (cdk-nag
        IAM5 is acknowledged once per role, so every reason for it belongs in that one acknowledgment)."""
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self, "LogGroup", retention=log_retention, removal_policy=removal_policy
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
                arch=ARCHITECTURE.name, runtime=RUNTIME.name, version=powertools_layer_version
            ),
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=asset_code(),
            layers=[lambda_.LayerVersion.from_layer_version_arn(self, "PowertoolsLayer", layer_arn)],
            memory_size=memory_size,
            timeout=timeout,
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={**environment, **powertools_environment(log_level)},
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
        # CDK adds an explicit DependsOn on the role that the Role's GetAtt already implies; cfn-lint
        # warns about it (W3005). Ignored on this resource only, since CDK itself generates it.
        cfn_function = self.function.node.default_child
        assert isinstance(cfn_function, CfnResource)
        cfn_function.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
