"""Inbound mail's storage: a private bucket for bodies, headers and attachments, and what the API
function may do with it and with the mail's item in the event table (docs/inbound.md).

The API function serves the inbound webhook and the lookup: it alone writes the bucket (PutObject) and
reads it (GetObject, which the lookup's presigned URLs use), under the `inbound/` prefix only. The
stream publisher gets nothing here: its events carry pointers, never bodies.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cmc_webhooks.settings import IngestSettings
from infra.guard_rails import acknowledge

OBJECT_PREFIX = "inbound/*"
# Control Tower's S3 controls the bucket leaves failing on purpose, each with its reason below.
BUCKET_VERSIONING = "s3_bucket_versioning_enabled_check"
BUCKET_LOGGING = "s3_bucket_logging_enabled_check"
BUCKET_NOTIFICATIONS = "s3_event_notifications_enabled_check"
BUCKET_LOCK = "s3_bucket_object_lock_enabled_check"


class InboundMail(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.Function,
        table: dynamodb.ITable,
        retention_days: int,
        removal_policy: RemovalPolicy,
        encryption_key: kms.IKey | None = None,
    ) -> None:
        """`function`: the API function, which receives and looks up mail. `encryption_key` encrypts the
        bucket (None: S3's AWS managed KMS key). Objects expire after `retention_days`, as the items do."""
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            # SSE-KMS either way: the stage's customer-managed key, or S3's AWS managed key (aws/s3).
            encryption=s3.BucketEncryption.KMS_MANAGED if encryption_key is None else s3.BucketEncryption.KMS,
            encryption_key=encryption_key,
            bucket_key_enabled=encryption_key is not None,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="Retention",
                    expiration=Duration.days(retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=removal_policy,
        )
        objects = self.bucket.arn_for_objects(OBJECT_PREFIX)
        iam.Grant.add_to_principal(
            grantee=function, actions=["s3:PutObject", "s3:GetObject"], resource_arns=[objects]
        )
        # The mail's item: read (already stored?) and written once, conditionally.
        iam.Grant.add_to_principal(
            grantee=function,
            actions=["dynamodb:GetItem", "dynamodb:PutItem"],
            resource_arns=[table.table_arn],
        )
        if encryption_key is not None:
            encryption_key.grant(function, "kms:Decrypt", "kms:GenerateDataKey")
        function.add_environment(
            str(IngestSettings.model_fields["inbound_bucket_name"].alias), self.bucket.bucket_name
        )
        self._acknowledge(function)

    def _acknowledge(self, function: lambda_.Function) -> None:
        role = function.role
        bucket = self.bucket.node.default_child
        assert role is not None
        assert isinstance(bucket, s3.CfnBucket)
        Validations.of(role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{Stack.of(self).resolve(bucket.logical_id)}.Arn>/{OBJECT_PREFIX}]",
                reason="The API function stores and reads inbound mail's objects, whose keys are made per "
                "mail (inbound/<inbound_id>/...): PutObject and GetObject on that prefix of the bucket only",
            )
        )
        Validations.of(self.bucket).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1",
                reason="Only the API function reads and writes this bucket, and CloudTrail can record its "
                "data events; server access logs would need a second bucket holding the requests' keys",
            )
        )
        for rule, reason in (
            (
                BUCKET_VERSIONING,
                "each object is written once under a key made per mail and expires with the "
                "retention; versions would keep personal data past it",
            ),
            (
                BUCKET_LOGGING,
                "server access logs would need a second bucket; CloudTrail data events can record "
                "access to this one",
            ),
            (
                BUCKET_NOTIFICATIONS,
                "a mail is announced by its item's stream (`Email Received`) once it and all its "
                "objects are stored; an S3 notification per object would announce half-stored mail",
            ),
            (
                BUCKET_LOCK,
                "objects must expire with the retention (and be deletable on request); a lock would "
                "keep them",
            ),
        ):
            acknowledge(self.bucket, rule, f"The inbound mail bucket: {reason}")
