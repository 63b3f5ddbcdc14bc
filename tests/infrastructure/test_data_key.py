"""customer_managed_key: off, the services' own keys; on, one rotated KMS key of the stack for the table,
the log groups and the queues, usable where the functions and services meet them. Every key of the stack
lets no one but an AWS service create a grant on it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import CfnElement
from aws_cdk.assertions import Template
from constructs import IConstruct

from infra.stack import CmcWebhooksStack
from tests.infrastructure.conftest import only, statements_of_role

ALARM_KEY = "Monitoring/AlarmTopicKey/Resource"
DATA_KEY = "DataKey/Key/Resource"


def logical_id(stack: CmcWebhooksStack, path: str) -> str:
    element: IConstruct = stack
    for part in path.split("/"):
        element = element.node.find_child(part)
    assert isinstance(element, CfnElement)
    return stack.get_logical_id(element)


def keys(template: Template) -> Mapping[str, Mapping[str, Any]]:
    return template.find_resources("AWS::KMS::Key")


def key_actions(template: Template, role_id: str, key_arn: dict[str, Any]) -> set[str]:
    return {
        action
        for statements in statements_of_role(template, role_id)
        for statement in statements
        if statement["Resource"] == key_arn
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }


def test_by_default_the_data_stays_under_the_services_own_keys(
    stacks: dict[str, CmcWebhooksStack], templates: dict[str, Template]
) -> None:
    for stage, template in templates.items():
        assert list(keys(template)) == [logical_id(stacks[stage], ALARM_KEY)]
        _, table = only(template, "AWS::DynamoDB::Table")
        assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True}
        for group in template.find_resources("AWS::Logs::LogGroup").values():
            assert "KmsKeyId" not in group["Properties"]
        for queue in template.find_resources("AWS::SQS::Queue").values():
            assert queue["Properties"]["SqsManagedSseEnabled"] is True
            assert "KmsMasterKeyId" not in queue["Properties"]
        assert "DataKeyArn" not in template.find_outputs("*")


def test_with_the_setting_the_table_logs_and_queues_use_one_rotated_key(
    key_stacks: dict[str, CmcWebhooksStack], key_templates: dict[str, Template]
) -> None:
    for stage, template in key_templates.items():
        stack = key_stacks[stage]
        key_id = logical_id(stack, DATA_KEY)
        key_arn = {"Fn::GetAtt": [key_id, "Arn"]}
        assert keys(template)[key_id]["Properties"]["EnableKeyRotation"] is True
        _, table = only(template, "AWS::DynamoDB::Table")
        assert table["Properties"]["SSESpecification"] == {
            "KMSMasterKeyId": key_arn,
            "SSEEnabled": True,
            "SSEType": "KMS",
        }
        groups = template.find_resources("AWS::Logs::LogGroup")
        assert len(groups) == 6  # access logs; ingest, publisher, reconcile, spill drain, tracker
        assert all(group["Properties"]["KmsKeyId"] == key_arn for group in groups.values())
        queues = template.find_resources("AWS::SQS::Queue")
        assert queues
        assert all(queue["Properties"]["KmsMasterKeyId"] == key_arn for queue in queues.values())
        assert template.find_outputs("DataKeyArn")["DataKeyArn"]["Value"] == key_arn


def test_the_functions_and_services_may_use_the_key_where_they_meet_it(
    key_stacks: dict[str, CmcWebhooksStack], key_templates: dict[str, Template]
) -> None:
    for stage, template in key_templates.items():
        stack = key_stacks[stage]
        key_id = logical_id(stack, DATA_KEY)
        key_arn = {"Fn::GetAtt": [key_id, "Arn"]}
        # Ingest reads and writes the table; the publisher reads its stream and sends to its queue.
        assert key_actions(template, logical_id(stack, "Ingest/Role/Resource"), key_arn) >= {
            "kms:Decrypt",
            "kms:GenerateDataKey",
        }
        assert key_actions(template, logical_id(stack, "Publisher/Role/Resource"), key_arn) >= {
            "kms:Decrypt",
            "kms:GenerateDataKey*",
        }
        statements = keys(template)[key_id]["Properties"]["KeyPolicy"]["Statement"]
        by_sid = {statement.get("Sid"): statement for statement in statements}
        logs = by_sid["CloudWatchLogsOfThisAccount"]
        assert logs["Principal"] == {
            "Service": {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}
        }
        assert "kms:GenerateDataKey*" in logs["Action"]
        assert "kms:EncryptionContext:aws:logs:arn" in logs["Condition"]["ArnLike"]
        events = by_sid["EventBridgeOfThisAccount"]
        assert events["Principal"] == {"Service": "events.amazonaws.com"}
        assert set(events["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}


def test_every_key_lets_only_aws_services_create_grants(
    templates: dict[str, Template], key_templates: dict[str, Template]
) -> None:
    for template in [*templates.values(), *key_templates.values()]:
        for key in keys(template).values():
            statements = key["Properties"]["KeyPolicy"]["Statement"]
            (deny,) = [statement for statement in statements if statement["Effect"] == "Deny"]
            assert deny["Action"] == "kms:CreateGrant"
            assert deny["Principal"] == {"AWS": "*"}
            assert deny["Condition"] == {
                "BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}
            }


def test_dead_letter_queues_say_they_are_dead_letter_queues(templates: dict[str, Template]) -> None:
    for template in templates.values():
        for queue in template.find_resources("AWS::SQS::Queue").values():
            properties = queue["Properties"]
            # A queue redrives into a dead-letter queue, or is one.
            assert ("RedrivePolicy" in properties) != ("RedriveAllowPolicy" in properties)
            if "RedriveAllowPolicy" in properties:
                assert properties["RedriveAllowPolicy"] == {"redrivePermission": "allowAll"}
