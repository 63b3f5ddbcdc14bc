"""The credentials CMC presents with every webhook, generated into a Secrets Manager secret.

The secret is JSON, as the function reads it (docs/security.md):

    {"username": "cmc", "password": "<32 letters and digits>"}

CloudFormation generates the password; nothing about it is in cdk.json, the template or the synth
output. The function also accepts `api_key`, `previous_password` and `previous_api_key`: one generator
fills one field, so an api_key, and rotation, are set by hand with put-secret-value (docs/deploy.md).
"""

from __future__ import annotations

import json

from aws_cdk import Acknowledgment, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

USERNAME = "cmc"
PASSWORD_KEY = "password"  # noqa: S105 - the JSON key the generator fills, not a password
# 32 letters and digits (~190 bits): no punctuation, which the CMC console and a Basic header's
# user:password (a ":" or a quote) handle badly.
PASSWORD_LENGTH = 32


class WebhookAuth(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            description=f"Credentials Customers Mail Cloud presents to {Stack.of(self).stack_name}'s "
            "webhook (BASIC username/password; optional api_key)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"username": USERNAME}),
                generate_string_key=PASSWORD_KEY,
                exclude_punctuation=True,
                include_space=False,
                password_length=PASSWORD_LENGTH,
            ),
            # Credentials, not data: a redeployed stack generates new ones, and the CMC console gets
            # them again. Secrets Manager keeps a deleted secret recoverable for 30 days anyway.
            removal_policy=RemovalPolicy.DESTROY,
        )
        Validations.of(self.secret).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SMG4",
                reason="The webhook credentials secret is rotated by hand, not by a rotation function: the "
                "same credentials must be typed into the Customers Mail Cloud console, which has no API, "
                "so a person changes both in step while the function accepts the current and the previous "
                "value (docs/security.md, rotation without downtime)",
            )
        )

    @property
    def secret_id(self) -> str:
        """What the function passes to GetSecretValue: the secret's full ARN, the same one its grant
        names. (CDK derives the generated name by splitting the ARN; the ARN needs no such parsing.)"""
        return self.secret.secret_arn

    @property
    def secret_name(self) -> str:
        """The generated name (without the ARN's 6-character suffix), for people and the AWS CLI."""
        return self.secret.secret_name

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Exactly what the function calls: GetSecretValue on this secret. The secret is encrypted with
        Secrets Manager's AWS managed key, so no KMS grant is needed."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["secretsmanager:GetSecretValue"],
            resource_arns=[self.secret.secret_arn],
        )
