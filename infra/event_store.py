"""The DynamoDB table that stores every CMC event, keyed as contract.py says."""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from cmc_webhooks import contract


class EventStore(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        removal_policy: RemovalPolicy,
        encryption_key: kms.IKey | None = None,
        recipient_index: str = contract.RECIPIENT_INDEX_ALL,
    ) -> None:
        """`encryption_key` encrypts the table and its stream (None: DynamoDB's AWS managed key);
        `recipient_index` (contract.RECIPIENT_INDEX_MODES) is what the recipient index projects."""
        super().__init__(scope, construct_id)
        self.encryption_key = encryption_key
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=contract.PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=contract.SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED
            if encryption_key is None
            else dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=encryption_key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=contract.TTL_ATTRIBUTE,
            # The stream publisher reads new items from the stream.
            # NEW_AND_OLD_IMAGES: the publisher reads new items; the suppression tracker also reads the
            # old image of an event TTL deleted (the address whose state it may change). No extra cost.
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
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
            **_recipient_projection(recipient_index),
        )
        # Sparse: only events that carry an apiData have its keys; it keeps what a status needs.
        self.table.add_global_secondary_index(
            index_name=contract.API_DATA_INDEX,
            partition_key=dynamodb.Attribute(
                name=contract.API_DATA_INDEX_PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(
                name=contract.API_DATA_INDEX_SORT_KEY, type=dynamodb.AttributeType.STRING
            ),
            projection_type=dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=list(contract.API_DATA_INDEX_PROJECTION),
        )

    def grant_batch_write_and_query(self, grantee: iam.IGrantable) -> iam.Grant:
        """Exactly what the ingest/lookup function calls: BatchWriteItem and Query on the table, Query on
        the recipient and apiData indexes; with a customer-managed key, the key's use for reading and
        writing the table (the AWS managed key needs no grant)."""
        on_table = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["dynamodb:BatchWriteItem", "dynamodb:Query"],
            resource_arns=[self.table.table_arn],
        )
        on_index = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["dynamodb:Query"],
            resource_arns=[
                f"{self.table.table_arn}/index/{contract.RECIPIENT_INDEX}",
                f"{self.table.table_arn}/index/{contract.API_DATA_INDEX}",
            ],
        )
        grant = on_table.combine(on_index)
        if self.encryption_key is not None:
            # What CDK's own table read and write grants give on the key, without its wildcards.
            grant = grant.combine(
                self.encryption_key.grant(
                    grantee, "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"
                )
            )
        return grant

    def grant_batch_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """Exactly what the spill drain calls: BatchWriteItem on the table; with a customer-managed key,
        the key's use for writing it."""
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=["dynamodb:BatchWriteItem"], resource_arns=[self.table.table_arn]
        )
        if self.encryption_key is not None:
            grant = grant.combine(
                self.encryption_key.grant(
                    grantee, "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"
                )
            )
        return grant


def _recipient_projection(recipient_index: str) -> dict[str, Any]:
    """Every attribute, or (sparse, only the events suppression reads) the attributes it reads."""
    if recipient_index == contract.RECIPIENT_INDEX_ALL:
        return {"projection_type": dynamodb.ProjectionType.ALL}
    return {
        "projection_type": dynamodb.ProjectionType.INCLUDE,
        "non_key_attributes": list(contract.SUPPRESSION_INDEX_ATTRIBUTES),
    }
