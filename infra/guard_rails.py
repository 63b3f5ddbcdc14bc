"""AWS Control Tower's proactive controls, run offline on every synth as a second validation plugin.

Organizations that turn these controls on block a deployment that fails one of them; running them at
synth (`make synth`, and the infrastructure tests) shows a failure before a deploy does. A finding the
stack accepts is acknowledged on its construct with the reason, as cdk-nag's are.
"""

from __future__ import annotations

import jsii
from aws_cdk import (
    Acknowledgment,
    IPolicyValidationContext,
    IPolicyValidationPlugin,
    PolicyValidationPluginReport,
    PolicyViolatingResource,
    PolicyViolation,
    Validations,
)
from cdklabs.cdk_validator_cfnguard import CfnGuardValidator
from constructs import IConstruct

# The plugin's name: the namespace of its rule ids in an acknowledgment and in the validation report.
PLUGIN_NAME = "cdk-validator-cfnguard"
# The rules the stack acknowledges where the stage's choice leaves them failing (see each call).
LOG_RETENTION = "cloudwatch_log_group_retention_period_check"  # CT.CLOUDWATCH.PR.2
LOG_ENCRYPTION = "cloudwatch_log_group_encrypted_check"  # CT.CLOUDWATCH.PR.3
LAMBDA_IN_VPC = "lambda_inside_vpc_check"  # CT.LAMBDA.PR.3
LAMBDA_PUBLIC_ACCESS = "lambda_function_public_access_prohibited_check"  # CT.LAMBDA.PR.2
# A log group kept at least this long passes CT.CLOUDWATCH.PR.2.
MIN_LOG_RETENTION_DAYS = 365


@jsii.implements(IPolicyValidationPlugin)
class GuardRails:
    """The plugin's validation of every Control Tower proactive control it bundles (none disabled), with
    each finding reported as an error. The plugin leaves a finding's severity unset, and once any rule
    of the app is acknowledged (cdk-nag's are), CDK fails the synth only for errors: an unacknowledged
    guard finding would otherwise be printed and let through."""

    def __init__(self) -> None:
        self.validator = CfnGuardValidator()

    @property
    def name(self) -> str:
        return self.validator.name

    @property
    def version(self) -> str | None:
        return self.validator.version

    @property
    def rule_ids(self) -> list[str] | None:
        return self.validator.rule_ids

    def validate(self, context: IPolicyValidationContext) -> PolicyValidationPluginReport:
        report = self.validator.validate(context)
        return PolicyValidationPluginReport(
            success=report.success,
            metadata=report.metadata,
            plugin_version=report.plugin_version,
            violations=[
                PolicyViolation(
                    rule_name=violation.rule_name,
                    description=violation.description,
                    violating_resources=[
                        PolicyViolatingResource(
                            locations=resource.locations,
                            resource_logical_id=resource.resource_logical_id,
                            template_path=resource.template_path,
                        )
                        for resource in violation.violating_resources
                    ],
                    fix=violation.fix,
                    rule_metadata=violation.rule_metadata,
                    severity=violation.severity or "error",
                )
                for violation in report.violations
            ],
        )


def guard_rails() -> GuardRails:
    return GuardRails()


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Accept the guard rule `rule` on `construct` and everything below it, for `reason`."""
    Validations.of(construct).acknowledge(Acknowledgment(id=f"{PLUGIN_NAME}::{rule}", reason=reason))
