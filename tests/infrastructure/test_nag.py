"""cdk-nag AwsSolutions: no unacknowledged finding, and every acknowledgment gives a concrete reason."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from infra.guard_rails import PLUGIN_NAME
from infra.stack import CmcWebhooksStack
from tests.infrastructure.conftest import TEST_STAGES, build_stack

# The API function puts, the drain gets, spilled webhooks under one prefix of the spill bucket.
SPILLED_OBJECTS = "AwsSolutions-IAM5[Resource::<SpillBucket95D36406.Arn>/spilled/*]"
EXPECTED_ACKNOWLEDGMENTS = {
    # path inside the stack -> rule ids
    "WebhookApi/Api": {"AwsSolutions-APIG2"},
    "WebhookApi/Api/Default/webhooks/events/POST": {"AwsSolutions-APIG4", "AwsSolutions-COG4"},
    "WebhookApi/Api/Default/messages/{message_id}/GET": {"AwsSolutions-COG4"},
    "WebhookApi/Api/CloudWatchRole": {
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AmazonAPIGatewayPushToCloudWatchLogs]"
    },
    "Ingest/Role": {
        "AwsSolutions-IAM5[Resource::*]",
        SPILLED_OBJECTS,
        "AwsSolutions-IAM5[Resource::<InboundMailBucket6432EECF.Arn>/inbound/*]",
    },
    "WebhookApi/Api/Default/webhooks/inbound/POST": {"AwsSolutions-APIG4", "AwsSolutions-COG4"},
    "WebhookApi/Api/Default/inbound/{inbound_id}/GET": {"AwsSolutions-COG4"},
    "InboundMail/Bucket": {"AwsSolutions-S1"},
    "Ingest/Function": {"AwsSolutions-L1"},
    "WebhookApi/Api/Default/recipients/{address}/GET": {"AwsSolutions-COG4"},
    "WebhookApi/Api/Default/messages/GET": {"AwsSolutions-COG4"},
    "WebhookApi/Api/Default/recipients/GET": {"AwsSolutions-COG4"},
    "Publisher/Role": {"AwsSolutions-IAM5[Resource::*]"},
    "Publisher/Function": {"AwsSolutions-L1"},
    "Publisher/OnFailureQueue": {"AwsSolutions-SQS3"},
    "WebhookApi/Api/Default/recipients/{address}/suppression/PUT": {"AwsSolutions-COG4"},
    "WebhookApi/Api/Default/recipients/{address}/suppression/DELETE": {"AwsSolutions-COG4"},
    "WebhookApi/Api/Default/suppressions/GET": {"AwsSolutions-COG4"},
    "SuppressionTracker/Role": {"AwsSolutions-IAM5[Resource::*]"},
    "SuppressionTracker/Function": {"AwsSolutions-L1"},
    "SuppressionTracker/OnFailureQueue": {"AwsSolutions-SQS3"},
    "WebhookAuth/Secret": {"AwsSolutions-SMG4"},
    "Spill/Bucket": {"AwsSolutions-S1"},
    "Spill/DeadLetterQueue": {"AwsSolutions-SQS3"},
    "Spill/Drain/Role": {"AwsSolutions-IAM5[Resource::*]", SPILLED_OBJECTS},
    "Spill/Drain/Function": {"AwsSolutions-L1"},
    "Reconciliation/ApiSecret": {"AwsSolutions-SMG4"},
    "Reconciliation/Reconcile/Role": {"AwsSolutions-IAM5[Resource::*]"},
    "Reconciliation/Reconcile/Function": {"AwsSolutions-L1"},
    "Reconciliation/ScheduleRole": {
        "AwsSolutions-IAM5[Resource::<ReconciliationReconcileFunctionC190012C.Arn>:*]"
    },
}
# The test prod stage's subscribers (conftest): a target's DLQ that no queue redrives into, and
# targets named by ARN, whose account and region CDK cannot compare in an environment-agnostic stack.
UNRESOLVED_ENVIRONMENT = "@aws-cdk/aws-events:ruleUnresolvedEnvironment"
STAGE_ACKNOWLEDGMENTS = {
    # The test prod stage has a WAF web ACL on its stage; dev has none, and says so.
    "prod": {
        "Subscribers/crm/DeadLetterQueue": {"AwsSolutions-SQS3"},
        "Subscribers/crm/Rule": {UNRESOLVED_ENVIRONMENT},
        "Subscribers/alerts/DeadLetterQueue": {"AwsSolutions-SQS3"},
        "Subscribers/alerts/Rule": {UNRESOLVED_ENVIRONMENT},
        "Subscribers/orders/DeadLetterQueue": {"AwsSolutions-SQS3"},
        "Subscribers/legacy/DeadLetterQueue": {"AwsSolutions-SQS3"},
    },
    # dev has only a queue subscriber, whose DLQ is its queue's redrive target: nothing to acknowledge.
    "dev": {"WebhookApi/Api/DeploymentStage.dev": {"AwsSolutions-APIG3"}},
}


def acknowledgments(stack: CmcWebhooksStack) -> dict[str, dict[str, str]]:
    """{construct path inside the stack: {rule id: reason}} from the Validations metadata, but for the
    guard rails' (test_guard_rails.py)."""
    found: dict[str, dict[str, str]] = {}
    for construct in stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                data: dict[str, Any] = entry.data
                path = construct.node.path.removeprefix(f"{stack.node.path}/")
                rules = {
                    rule.removeprefix("Annotation::"): reason
                    for rule, reason in data.items()
                    if not rule.startswith(f"{PLUGIN_NAME}::")
                }
                if rules:
                    found.setdefault(path, {}).update(rules)
    return found


def test_no_finding_is_left_unacknowledged(stacks: dict[str, CmcWebhooksStack]) -> None:
    for stack in stacks.values():
        report = AwsSolutionsChecks().validate_scope(stack)
        assert report.violations == []
        assert report.success


def test_with_the_customer_managed_key_no_finding_is_left_unacknowledged(
    key_stacks: dict[str, CmcWebhooksStack],
) -> None:
    for stack in key_stacks.values():
        report = AwsSolutionsChecks().validate_scope(stack)
        assert report.violations == []
        # CDK's grant to send to the encrypted on-failure queue: the publisher's role only.
        assert set(acknowledgments(stack)["Publisher/Role"]) == {
            "AwsSolutions-IAM5[Resource::*]",
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
        }


def test_only_the_expected_findings_are_acknowledged_each_with_a_reason(
    stacks: dict[str, CmcWebhooksStack],
) -> None:
    for stage, stack in stacks.items():
        found = acknowledgments(stack)
        expected = EXPECTED_ACKNOWLEDGMENTS | STAGE_ACKNOWLEDGMENTS[stage]
        assert {path: set(rules) for path, rules in found.items()} == expected
        for rules in found.values():
            for reason in rules.values():
                assert len(reason) > 60, reason


def test_a_roles_wildcard_acknowledgment_names_every_action_it_excuses(
    stacks: dict[str, CmcWebhooksStack],
) -> None:
    for stack in stacks.values():
        template = Template.from_stack(stack)
        found = acknowledgments(stack)
        for role in ("Ingest", "Publisher"):
            cfn_role = stack.node.find_child(role).node.find_child("Role").node.default_child
            assert isinstance(cfn_role, cdk.CfnElement)
            role_id = stack.get_logical_id(cfn_role)
            wildcard_actions = {
                action
                for policy in template.find_resources("AWS::IAM::Policy").values()
                if {"Ref": role_id} in policy["Properties"]["Roles"]
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]
                if statement["Resource"] == "*"
                for action in (
                    [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
                )
            }
            reason = found[f"{role}/Role"]["AwsSolutions-IAM5[Resource::*]"]
            assert wildcard_actions
            for action in wildcard_actions:
                assert action in reason, (role, action)


def test_the_missing_waf_is_acknowledged_only_where_the_stage_has_none(
    stacks: dict[str, CmcWebhooksStack],
) -> None:
    assert "AwsSolutions-APIG3" in acknowledgments(stacks["dev"])["WebhookApi/Api/DeploymentStage.dev"]
    assert "WebhookApi/Api/DeploymentStage.prod" not in acknowledgments(stacks["prod"])


def test_the_check_does_catch_an_unacknowledged_finding() -> None:
    stack = build_stack({"stages": TEST_STAGES})
    sqs.Queue(stack, "PlainQueue")

    report = AwsSolutionsChecks().validate_scope(stack)

    assert not report.success
    assert {violation.rule_name for violation in report.violations} >= {
        "AwsSolutions-SQS3",
        "AwsSolutions-SQS4",
    }
