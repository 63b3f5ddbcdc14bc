"""The DynamoDB table that stores every CMC event, keyed as contract.py says."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from cmc_webhooks import contract


class EventStore(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=contract.PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=contract.SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=contract.TTL_ATTRIBUTE,
            # The stream publisher reads new items from the stream.
            stream=dynamodb.StreamViewType.NEW_IMAGE,
            removal_policy=removal_policy,
            deletion_protection=removal_policy == RemovalPolicy.RETAIN,
        )
        self.table.add_global_secondary_index(
            index_name=contract.RECIPIENT_INDEX,
            partition_key=dynamodb.Attribute(
                name=contract.RECIPIENT_INDEX_PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(
                name=contract.RECIPIENT_INDEX_SORT_KEY, type=dynamodb.AttributeType.STRING
            ),
            projection_type=dynamodb.ProjectionType.ALL,
        )

    def grant_batch_write_and_query(self, grantee: iam.IGrantable) -> iam.Grant:
        """Exactly what the ingest/lookup function calls: BatchWriteItem and Query on the table, Query on
        the recipient index. Encryption uses the AWS managed key, so no KMS grant is needed."""
        on_table = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["dynamodb:BatchWriteItem", "dynamodb:Query"],
            resource_arns=[self.table.table_arn],
        )
        on_index = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["dynamodb:Query"],
            resource_arns=[f"{self.table.table_arn}/index/{contract.RECIPIENT_INDEX}"],
        )
        return on_table.combine(on_index)
