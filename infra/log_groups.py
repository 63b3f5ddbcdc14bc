"""Every log group of the stack: the stage's retention and removal policy, and the stage's key."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.guard_rails import LOG_ENCRYPTION, LOG_RETENTION, MIN_LOG_RETENTION_DAYS, acknowledge


def log_group(
    scope: Construct,
    construct_id: str,
    *,
    retention: logs.RetentionDays,
    removal_policy: RemovalPolicy,
    encryption_key: kms.IKey | None,
) -> logs.LogGroup:
    """A log group encrypted with `encryption_key` (None: CloudWatch Logs' own encryption). The guard
    rails' findings that the stage's settings choose are acknowledged on it, naming the setting."""
    group = logs.LogGroup(
        scope, construct_id, retention=retention, removal_policy=removal_policy, encryption_key=encryption_key
    )
    cfn = group.node.default_child
    assert isinstance(cfn, logs.CfnLogGroup)
    days = cfn.retention_in_days  # None: kept forever
    if days is not None and days < MIN_LOG_RETENTION_DAYS:
        acknowledge(
            group,
            LOG_RETENTION,
            f"This stage keeps its logs {days} days (log_retention in cdk.json): they hold counts, event "
            "types, error codes and request ids, never personal data, and serve operations, not audit; "
            f"a log_retention of {MIN_LOG_RETENTION_DAYS} days or more (ONE_YEAR) meets the control",
        )
    if encryption_key is None:
        acknowledge(
            group,
            LOG_ENCRYPTION,
            "This stage leaves customer_managed_key false in cdk.json: CloudWatch Logs encrypts the log "
            "group with its own key, and the logs hold no addresses, subjects or credentials; "
            "customer_managed_key true encrypts it with the stack's KMS key",
        )
    return group
