"""The stack as a whole: environment-agnostic, one per stage, and the outputs a user needs."""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import Token
from aws_cdk.assertions import Template

from cmc_webhooks import contract
from infra.stack import CmcWebhooksStack
from tests.infrastructure.conftest import FUNCTION_ARN, TOPIC_ARN, one_bucket, only, publisher_mapping


def joined_url(value: dict[str, Any]) -> str:
    """Render an Fn::Join URL with its references as <LogicalId> or <AWS::Pseudo> placeholders."""
    return "".join(part if isinstance(part, str) else f"<{part['Ref']}>" for part in value["Fn::Join"][1])


def test_stacks_are_named_per_stage_with_no_account_or_region(stacks: dict[str, CmcWebhooksStack]) -> None:
    for stage, stack in stacks.items():
        assert stack.stack_name == f"{contract.SERVICE_NAME}-{stage}"
        assert Token.is_unresolved(stack.account)
        assert Token.is_unresolved(stack.region)


def test_template_holds_no_account_id(template: Template) -> None:
    # Only the subscriber targets cdk.json names by ARN carry one; synth adds none.
    text = str(template.to_json()).replace(FUNCTION_ARN, "").replace(TOPIC_ARN, "")
    assert not re.search(r"\b\d{12}\b", text)


def test_outputs_give_the_webhook_url_the_lookup_urls_and_the_table_name(
    template: Template, stage: str
) -> None:
    outputs = template.to_json()["Outputs"]
    api_id, _ = only(template, "AWS::ApiGateway::RestApi")
    stage_id, _ = only(template, "AWS::ApiGateway::Stage")
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    base = f"https://<{api_id}>.execute-api.<AWS::Region>.<AWS::URLSuffix>/<{stage_id}>"

    assert joined_url(outputs["WebhookUrl"]["Value"]) == base + contract.WEBHOOK_PATH
    assert joined_url(outputs["LookupUrl"]["Value"]) == base + contract.MESSAGE_LOOKUP_PATH
    assert joined_url(outputs["RecipientLookupUrl"]["Value"]) == base + contract.RECIPIENT_LOOKUP_PATH
    assert outputs["EventTableName"]["Value"] == {"Ref": table_id}


def test_outputs_give_the_bus_its_archive_and_the_queues_to_watch(template: Template, stage: str) -> None:
    outputs = template.to_json()["Outputs"]
    bus_id, _ = only(template, "AWS::Events::EventBus")
    archive_id, _ = only(template, "AWS::Events::Archive")
    mapping = publisher_mapping(template)
    on_failure = mapping["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    default_rule = next(
        body["Properties"]
        for body in template.find_resources("AWS::Events::Rule").values()
        if body["Properties"]["Description"] == "Events for the default subscriber"
    )
    (default_target,) = default_rule["Targets"]

    assert outputs["EventBusName"]["Value"] == {"Ref": bus_id}
    assert outputs["EventBusArn"]["Value"] == {"Fn::GetAtt": [bus_id, "Arn"]}
    assert outputs["EventArchiveArn"]["Value"] == {"Fn::GetAtt": [archive_id, "Arn"]}
    assert outputs["PublisherOnFailureQueueUrl"]["Value"] == {"Ref": on_failure}
    assert outputs["PublisherFunctionName"]["Value"] == mapping["Properties"]["FunctionName"]
    tracker_queue = outputs["SuppressionTrackerOnFailureQueueUrl"]["Value"]["Ref"]
    assert tracker_queue.startswith("SuppressionTrackerOnFailureQueue")
    assert tracker_queue != on_failure
    spill_queues = {name for name in template.find_resources("AWS::SQS::Queue") if name.startswith("Spill")}
    assert {
        outputs["SpillQueueUrl"]["Value"]["Ref"],
        outputs["SpillDeadLetterQueueUrl"]["Value"]["Ref"],
    } == spill_queues
    assert outputs["SpillBucketName"]["Value"] == {"Ref": one_bucket(template, "Spill")[0]}
    assert outputs["DefaultSubscriberQueueUrl"]["Value"] == {"Ref": default_target["Arn"]["Fn::GetAtt"][0]}
    assert outputs["DefaultSubscriberDeadLetterQueueUrl"]["Value"] == {
        "Ref": default_target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    }
    queue_outputs = {name for name in outputs if name.endswith("SubscriberQueueUrl")}
    assert queue_outputs == (
        {"DefaultSubscriberQueueUrl", "HardBouncesSubscriberQueueUrl"}
        if stage == "prod"
        else {"DefaultSubscriberQueueUrl"}
    )
    for name, output in outputs.items():
        if name != "WebhookApiEndpointB621AC23":  # CDK's own
            assert output.get("Description"), name
