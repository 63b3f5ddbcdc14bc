"""The webhook credentials: generated into Secrets Manager, readable by the ingest function alone."""

from __future__ import annotations

import json

from aws_cdk.assertions import Template

from cmc_webhooks.settings import IngestSettings
from tests.infrastructure.conftest import function_with_handler, webhook_secret

INGEST_HANDLER = "cmc_webhooks.handlers.api.lambda_handler"


def alias(field: str) -> str:
    return str(IngestSettings.model_fields[field].alias)


def test_cloudformation_generates_a_32_character_alphanumeric_password_for_user_cmc(
    template: Template,
) -> None:
    _, secret = webhook_secret(template)
    generated = secret["Properties"]["GenerateSecretString"]

    assert json.loads(generated["SecretStringTemplate"]) == {"username": "cmc"}
    assert generated["GenerateStringKey"] == "password"
    assert generated["PasswordLength"] == 32
    assert generated["ExcludePunctuation"] is True
    assert generated["IncludeSpace"] is False
    # Nothing about the value is in the template: no SecretString, no customer key to manage.
    assert "SecretString" not in secret["Properties"]
    assert "KmsKeyId" not in secret["Properties"]
    # Credentials, not data: a new stack generates new ones (Secrets Manager keeps a deleted secret
    # recoverable for 30 days).
    assert secret["DeletionPolicy"] == "Delete"


def test_the_ingest_function_is_told_the_secret(template: Template) -> None:
    secret_id, _ = webhook_secret(template)
    _, function = function_with_handler(template, INGEST_HANDLER)
    variables = function["Properties"]["Environment"]["Variables"]

    # Ref of a secret is its full ARN: GetSecretValue takes it as the SecretId, unambiguously.
    assert variables[alias("auth_secret_name")] == {"Ref": secret_id}


def test_only_the_ingest_function_may_read_the_secret_and_only_that_one(template: Template) -> None:
    secret_id, _ = webhook_secret(template)
    _, ingest = function_with_handler(template, INGEST_HANDLER)
    ingest_role = ingest["Properties"]["Role"]["Fn::GetAtt"][0]

    readers = {
        role["Ref"]
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "secretsmanager" in json.dumps(statement["Action"])
        and secret_id in json.dumps(statement["Resource"])  # the reconciliation reads only its own
        for role in policy["Properties"]["Roles"]
    }
    (statement,) = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": ingest_role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "secretsmanager" in json.dumps(statement["Action"])
    ]

    assert readers == {ingest_role}
    assert statement == {
        "Action": "secretsmanager:GetSecretValue",
        "Effect": "Allow",
        "Resource": {"Ref": secret_id},
    }
    # No resource policy widens access to it.
    assert not template.find_resources("AWS::SecretsManager::ResourcePolicy")


def test_the_output_names_the_secret_to_read_the_credentials_from(template: Template) -> None:
    secret_id, _ = webhook_secret(template)
    output = template.to_json()["Outputs"]["WebhookAuthSecretName"]

    assert {"Ref": secret_id} in references(output["Value"])


def references(value: object) -> list[object]:
    """Every {"Ref": ...} inside an intrinsic function."""
    if isinstance(value, dict):
        return [value] if set(value) == {"Ref"} else [r for item in value.values() for r in references(item)]
    if isinstance(value, list):
        return [r for item in value for r in references(item)]
    return []
