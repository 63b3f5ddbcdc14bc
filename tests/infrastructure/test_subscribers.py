"""Subscribers: a rule per subscriber on the bus, and every target with a retry policy and an SQS DLQ.

The test prod stage (conftest) has one subscriber of each kind; dev has only the default queue.
"""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template

from infra.settings import DEFAULT_MAX_EVENT_AGE_HOURS, DEFAULT_RETRY_ATTEMPTS, StageSettings
from tests.infrastructure.conftest import FUNCTION_ARN, TOPIC_ARN, only
from tests.infrastructure.test_stream_publisher import assert_ssl_only


def rule_of(template: Template, name: str) -> dict[str, Any]:
    (rule,) = [
        body["Properties"]
        for body in template.find_resources("AWS::Events::Rule").values()
        if body["Properties"]["Description"] == f"Events for the {name} subscriber"
    ]
    return dict(rule)


def target_of(template: Template, name: str) -> dict[str, Any]:
    (target,) = rule_of(template, name)["Targets"]
    return dict(target)


def resource(template: Template, ref: dict[str, Any]) -> dict[str, Any]:
    logical_id = ref["Ref"] if "Ref" in ref else ref["Fn::GetAtt"][0]
    body: dict[str, Any] = template.to_json()["Resources"][logical_id]
    return body


def test_one_rule_per_subscriber_on_the_bus_with_its_pattern(
    template: Template, settings: StageSettings
) -> None:
    bus_id, _ = only(template, "AWS::Events::EventBus")

    assert len(template.find_resources("AWS::Events::Rule")) == len(settings.subscribers)
    for subscriber in settings.subscribers:
        rule = rule_of(template, subscriber.name)
        assert rule["EventBusName"] == {"Ref": bus_id}
        assert rule["State"] == "ENABLED"
        assert rule["EventPattern"] == subscriber.rule.event_pattern(settings.event_source)


def test_the_test_stages_patterns_are_the_documented_ones(prod: Template) -> None:
    assert rule_of(prod, "default")["EventPattern"] == {"source": ["cmc.example.prod"]}
    assert rule_of(prod, "hard-bounces")["EventPattern"] == {
        "source": ["cmc.example.prod"],
        "detail-type": ["Email Bounced"],
        "detail": {"bounce_code": ["1", "2"]},
    }
    assert rule_of(prod, "crm")["EventPattern"]["detail"] == {"server_composition": ["pro"]}
    assert rule_of(prod, "orders")["EventPattern"]["detail"] == {"api_data": [{"prefix": "order-"}]}


def test_every_target_has_a_retry_policy_and_an_encrypted_sqs_dead_letter_queue(
    template: Template, settings: StageSettings, stage: str
) -> None:
    for subscriber in settings.subscribers:
        target = target_of(template, subscriber.name)

        assert target["RetryPolicy"] == {
            "MaximumRetryAttempts": subscriber.retry_attempts,
            "MaximumEventAgeInSeconds": subscriber.max_event_age_hours * 3600,
        }, subscriber.name
        dlq_ref = target["DeadLetterConfig"]["Arn"]
        dlq = resource(template, dlq_ref)
        assert dlq["Type"] == "AWS::SQS::Queue"
        assert dlq["Properties"]["SqsManagedSseEnabled"] is True
        assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
        assert dlq["DeletionPolicy"] == ("Retain" if stage == "prod" else "Delete")
        assert_ssl_only(template, dlq_ref["Fn::GetAtt"][0])


def test_retry_settings_default_and_can_be_set_per_subscriber(prod: Template) -> None:
    assert target_of(prod, "default")["RetryPolicy"] == {
        "MaximumRetryAttempts": DEFAULT_RETRY_ATTEMPTS,
        "MaximumEventAgeInSeconds": DEFAULT_MAX_EVENT_AGE_HOURS * 3600,
    }
    assert target_of(prod, "hard-bounces")["RetryPolicy"] == {
        "MaximumRetryAttempts": 3,
        "MaximumEventAgeInSeconds": 2 * 3600,
    }


def test_only_eventbridge_sends_to_a_dead_letter_queue_and_only_from_its_rule(
    template: Template, settings: StageSettings
) -> None:
    rules = {
        body["Properties"]["Description"]: rule_id
        for rule_id, body in template.find_resources("AWS::Events::Rule").items()
    }
    for subscriber in settings.subscribers:
        dlq_id = target_of(template, subscriber.name)["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
        (policy,) = [
            body
            for body in template.find_resources("AWS::SQS::QueuePolicy").values()
            if body["Properties"]["Queues"] == [{"Ref": dlq_id}]
        ]
        allows = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
        rule_id = rules[f"Events for the {subscriber.name} subscriber"]
        assert [(s["Principal"], s["Action"], s["Condition"]) for s in allows] == [
            (
                {"Service": "events.amazonaws.com"},
                "sqs:SendMessage",
                {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}},
            )
        ]


def test_a_queue_subscriber_gets_an_encrypted_queue_that_redrives_into_the_same_dlq(
    template: Template, stage: str
) -> None:
    target = target_of(template, "default")
    queue = resource(template, target["Arn"])

    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": target["DeadLetterConfig"]["Arn"],
        "maxReceiveCount": 5,
    }
    assert queue["DeletionPolicy"] == ("Retain" if stage == "prod" else "Delete")
    assert_ssl_only(template, target["Arn"]["Fn::GetAtt"][0])


def test_a_function_subscriber_may_be_invoked_by_its_rule_only(prod: Template) -> None:
    target = target_of(prod, "crm")
    rule_id = next(
        rule_id
        for rule_id, body in prod.find_resources("AWS::Events::Rule").items()
        if body["Properties"]["Description"] == "Events for the crm subscriber"
    )

    assert target["Arn"] == FUNCTION_ARN
    assert "RoleArn" not in target
    prod.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": FUNCTION_ARN,
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]},
        },
    )


def test_a_topic_subscriber_publishes_through_a_role_allowed_only_that_topic(prod: Template) -> None:
    target = target_of(prod, "alerts")
    role_id = target["RoleArn"]["Fn::GetAtt"][0]

    assert target["Arn"] == TOPIC_ARN
    assert prod.to_json()["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}}
    ]
    (statements,) = [
        body["Properties"]["PolicyDocument"]["Statement"]
        for body in prod.find_resources("AWS::IAM::Policy").values()
        if body["Properties"]["Roles"] == [{"Ref": role_id}]
    ]
    assert statements == [{"Action": "sns:Publish", "Effect": "Allow", "Resource": TOPIC_ARN}]


def test_an_http_subscriber_calls_its_api_destination_with_credentials_from_secrets_manager(
    prod: Template,
) -> None:
    target = target_of(prod, "orders")
    destination = resource(prod, target["Arn"])
    connection = resource(prod, destination["Properties"]["ConnectionArn"])

    assert destination["Type"] == "AWS::Events::ApiDestination"
    assert destination["Properties"]["InvocationEndpoint"] == "https://hooks.example.com/cmc/events"
    assert destination["Properties"]["HttpMethod"] == "POST"
    assert destination["Properties"]["InvocationRateLimitPerSecond"] == 20
    assert connection["Properties"]["AuthorizationType"] == "API_KEY"
    # A dynamic reference CloudFormation resolves at deploy time: no secret in cdk.json or the template.
    assert connection["Properties"]["AuthParameters"] == {
        "ApiKeyAuthParameters": {
            "ApiKeyName": "X-Api-Key",
            "ApiKeyValue": "{{resolve:secretsmanager:cmc/orders-api-key:SecretString:::}}",
        }
    }
    (statements,) = [
        body["Properties"]["PolicyDocument"]["Statement"]
        for body in prod.find_resources("AWS::IAM::Policy").values()
        if body["Properties"]["Roles"] == [{"Ref": target["RoleArn"]["Fn::GetAtt"][0]}]
    ]
    assert statements == [
        {"Action": "events:InvokeApiDestination", "Effect": "Allow", "Resource": target["Arn"]}
    ]


def test_basic_auth_takes_the_password_from_a_field_of_a_json_secret(prod: Template) -> None:
    destination = resource(prod, target_of(prod, "legacy")["Arn"])
    connection = resource(prod, destination["Properties"]["ConnectionArn"])

    assert destination["Properties"]["HttpMethod"] == "PUT"
    assert "InvocationRateLimitPerSecond" not in destination["Properties"]
    assert connection["Properties"]["AuthorizationType"] == "BASIC"
    assert connection["Properties"]["AuthParameters"] == {
        "BasicAuthParameters": {
            "Username": "cmc",
            "Password": "{{resolve:secretsmanager:cmc/legacy:SecretString:password::}}",
        }
    }


def test_no_http_subscriber_or_connection_by_default(dev: Template) -> None:
    assert not dev.find_resources("AWS::Events::Connection")
    assert not dev.find_resources("AWS::Events::ApiDestination")
