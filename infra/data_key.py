"""The stack's customer-managed KMS key for personal data, and the grant limit every key of the stack has.

With `customer_managed_key` on, the event table (and its stream), every log group and every SQS queue
of the stack are encrypted with one key, rotated yearly. Who may use it:
- the functions, through the grants where they meet the table and the queues (EventStore, CDK's
  stream and queue grants);
- CloudWatch Logs of the stack's region, for the log groups of this account;
- EventBridge, for deliveries of this account's rules into the queues and dead-letter queues;
- the account's IAM policies, as with any key (CDK's default key policy), but no one may create a
  grant on it except for an AWS service.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


def limit_grants_to_aws_services(key: kms.Key) -> None:
    """Deny kms:CreateGrant unless the grant is for an AWS resource or the caller is an AWS service
    (Control Tower's CT.KMS.PR.3): a grant would otherwise hand the key's use on outside its policy."""
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CreateGrantOnlyForAwsServices",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["kms:CreateGrant"],
            resources=["*"],
            conditions={
                "BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}
            },
        )
    )


class DataKey(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy) -> None:
        """`removal_policy`: the stage's, as for the data (a retained table is readable only with its key)."""
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            description=f"Encrypts {stack.stack_name}'s stored events, logs and queues",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        limit_grants_to_aws_services(self.key)
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsOfThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                # The statement CloudWatch Logs documents for encrypting log groups.
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )
        # A rule's target queue gets its own statement from CDK; the targets' dead-letter queues need this.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgeOfThisAccount",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
