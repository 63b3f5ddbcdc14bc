"""AWS Control Tower's proactive controls (the cfn-guard validation plugin) on every synth: no finding is
left unacknowledged, and each acknowledgment is the stage's choice, given with a reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_logs as logs

from infra.guard_rails import (
    LAMBDA_IN_VPC,
    LAMBDA_PUBLIC_ACCESS,
    LOG_ENCRYPTION,
    LOG_RETENTION,
    PLUGIN_NAME,
)
from infra.inbound_mail import BUCKET_LOCK, BUCKET_LOGGING, BUCKET_NOTIFICATIONS, BUCKET_VERSIONING
from infra.stack import CmcWebhooksStack
from tests.infrastructure.conftest import TEST_STAGES, build_stack

LOG_GROUPS = {
    "Ingest/LogGroup",
    "Publisher/LogGroup",
    "SuppressionTracker/LogGroup",
    "WebhookApi/AccessLogs",
    "Reconciliation/Reconcile/LogGroup",
    "Spill/Drain/LogGroup",
}
SPILL_BUCKET_RULES = (
    "s3_bucket_versioning_enabled_check",
    "s3_bucket_logging_enabled_check",
    "s3_bucket_object_lock_enabled_check",
    "s3_event_notifications_enabled_check",
)
SPILL_BUCKET_KMS = "s3_bucket_default_encryption_kms_check"
INVOKE_PERMISSIONS = {
    "WebhookApi/Api/Default/webhooks/events/POST",
    "WebhookApi/Api/Default/messages/{message_id}/GET",
    "WebhookApi/Api/Default/recipients/{address}/GET",
    "WebhookApi/Api/Default/webhooks/inbound/POST",
    "WebhookApi/Api/Default/inbound/{inbound_id}/GET",
    "WebhookApi/Api/Default/messages/GET",
    "WebhookApi/Api/Default/recipients/GET",
    "WebhookApi/Api/Default/recipients/{address}/suppression/PUT",
    "WebhookApi/Api/Default/recipients/{address}/suppression/DELETE",
    "WebhookApi/Api/Default/suppressions/GET",
}
ALWAYS = {
    LAMBDA_IN_VPC: {
        "Ingest/Function",
        "Publisher/Function",
        "SuppressionTracker/Function",
        "Reconciliation/Reconcile/Function",
        "Spill/Drain/Function",
    },
    # The spill bucket and the inbound mail bucket: no versions, access logs, object lock or event
    # notifications (the reasons in infra/spill.py and infra/inbound_mail.py).
    **{rule: {"Spill/Bucket", "InboundMail/Bucket"} for rule in SPILL_BUCKET_RULES},
    LAMBDA_PUBLIC_ACCESS: INVOKE_PERMISSIONS,
    # Both test stages keep their logs under a year (14 and 90 days).
    LOG_RETENTION: LOG_GROUPS,
}
# The inbound mail bucket acknowledges the same rules as the spill bucket.
assert set(SPILL_BUCKET_RULES) == {BUCKET_VERSIONING, BUCKET_LOGGING, BUCKET_NOTIFICATIONS, BUCKET_LOCK}


def guard_report(stack: CmcWebhooksStack) -> dict[str, Any]:
    """Synthesize the stack's app with its validation plugins (an unacknowledged finding fails it) and
    return the guard plugin's part of the validation report."""
    app = stack.node.root
    assert isinstance(app, cdk.App)
    app.synth(force=True)
    return written_guard_report(app)


def written_guard_report(app: cdk.App) -> dict[str, Any]:
    report = json.loads((Path(app.outdir) / "validation-report.json").read_text())
    (guard,) = [plugin for plugin in report["pluginReports"] if plugin["pluginName"] == PLUGIN_NAME]
    return dict(guard)


def acknowledged(report: dict[str, Any], stack: CmcWebhooksStack) -> dict[str, set[str]]:
    """{rule: {construct path inside the stack of the acknowledgment}} of the suppressed findings."""
    found: dict[str, set[str]] = {}
    for violation in report.get("suppressedViolations") or []:
        rule = violation["acknowledgedId"].removeprefix(f"{PLUGIN_NAME}::")
        found.setdefault(rule, set()).add(violation["acknowledgedAt"].removeprefix(f"{stack.node.path}/"))
        assert len(violation["reason"]) > 60, violation["reason"]
    return found


def test_every_finding_is_acknowledged_where_the_stage_chose_it(stacks: dict[str, CmcWebhooksStack]) -> None:
    for stack in stacks.values():
        report = guard_report(stack)

        assert report["violations"] == []
        assert report["conclusion"] == "success"
        assert acknowledged(report, stack) == ALWAYS | {
            LOG_ENCRYPTION: LOG_GROUPS,
            SPILL_BUCKET_KMS: {"Spill/Bucket"},
        }


def test_with_the_customer_managed_key_the_log_groups_pass_on_their_own(
    key_stacks: dict[str, CmcWebhooksStack],
) -> None:
    for stack in key_stacks.values():
        report = guard_report(stack)

        assert report["violations"] == []
        assert report["conclusion"] == "success"
        assert acknowledged(report, stack) == ALWAYS


def test_logs_kept_a_year_need_no_acknowledgment() -> None:
    stages = {"dev": TEST_STAGES["dev"] | {"log_retention": "ONE_YEAR"}}
    stack = build_stack({"stages": stages, "stage": "dev"})

    assert LOG_RETENTION not in acknowledged(guard_report(stack), stack)


def test_the_guard_rails_do_fail_the_synth_on_an_unacknowledged_finding() -> None:
    stack = build_stack({"stages": TEST_STAGES})
    logs.LogGroup(stack, "PlainLogGroup", retention=logs.RetentionDays.ONE_WEEK)
    app = stack.node.root
    assert isinstance(app, cdk.App)

    with pytest.raises(RuntimeError, match=f"Acknowledge with '{PLUGIN_NAME}::{LOG_RETENTION}'"):
        app.synth(force=True)
    guard = written_guard_report(app)

    assert guard["conclusion"] == "failure"
    failing = {
        (violation["ruleName"], construct["constructPath"].removeprefix(f"{stack.node.path}/"))
        for violation in guard["violations"]
        for construct in violation["violatingConstructs"]
    }
    assert failing == {(LOG_RETENTION, "PlainLogGroup/Resource"), (LOG_ENCRYPTION, "PlainLogGroup/Resource")}
