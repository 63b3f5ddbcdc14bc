"""The stack as a whole: environment-agnostic, one per stage, and the outputs a user needs."""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import Token
from aws_cdk.assertions import Template

from cmc_webhooks import contract
from infra.stack import CmcWebhooksStack
from tests.infrastructure.conftest import only


def joined_url(value: dict[str, Any]) -> str:
    """Render an Fn::Join URL with its references as <LogicalId> or <AWS::Pseudo> placeholders."""
    return "".join(part if isinstance(part, str) else f"<{part['Ref']}>" for part in value["Fn::Join"][1])


def test_stacks_are_named_per_stage_with_no_account_or_region(stacks: dict[str, CmcWebhooksStack]) -> None:
    for stage, stack in stacks.items():
        assert stack.stack_name == f"{contract.SERVICE_NAME}-{stage}"
        assert Token.is_unresolved(stack.account)
        assert Token.is_unresolved(stack.region)


def test_template_holds_no_account_id(template: Template) -> None:
    assert not re.search(r"\b\d{12}\b", str(template.to_json()))


def test_outputs_give_the_webhook_url_the_lookup_url_and_the_table_name(
    template: Template, stage: str
) -> None:
    outputs = template.to_json()["Outputs"]
    api_id, _ = only(template, "AWS::ApiGateway::RestApi")
    stage_id, _ = only(template, "AWS::ApiGateway::Stage")
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    base = f"https://<{api_id}>.execute-api.<AWS::Region>.<AWS::URLSuffix>/<{stage_id}>"

    assert joined_url(outputs["WebhookUrl"]["Value"]) == base + contract.WEBHOOK_PATH
    assert joined_url(outputs["LookupUrl"]["Value"]) == base + contract.MESSAGE_LOOKUP_PATH
    assert outputs["EventTableName"]["Value"] == {"Ref": table_id}
    assert "CMC" in outputs["WebhookUrl"]["Description"]
