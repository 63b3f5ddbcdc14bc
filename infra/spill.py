"""The spill: where a webhook goes when the event table refuses it, and the function that drains it.

- The spill queue (SQS, encrypted, TLS only, 14 days) takes each refused webhook as received; a webhook
  larger than a message goes to the spill bucket, the message saying where.
- The spill bucket: encrypted, no public access, TLS only, objects deleted after the queue's retention.
- The drain function (same asset, handlers/spill_drain.py) reads the queue through Lambda's SQS event
  source, with partial batch failures; a message that fails MAX_RECEIVE_COUNT times moves to the drain's
  dead-letter queue, which the stack's monitoring watches.
Grants: the API function may only send to the queue and put into the bucket; the drain reads both.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cmc_webhooks import contract
from cmc_webhooks.settings import DrainSettings
from infra import queues
from infra.event_store import EventStore
from infra.guard_rails import acknowledge
from infra.powertools_function import PowertoolsFunction
from infra.settings import StageSettings

HANDLER = "cmc_webhooks.handlers.spill_drain.lambda_handler"
OBJECT_PREFIX = "spilled/"  # dal/spill.py writes under it
# The longest SQS keeps a message: time for the table to recover, or for an operator to act.
RETENTION = Duration.days(14)
# A spilled object outlives its message by a day, then S3 deletes it.
OBJECT_EXPIRATION = Duration.days(15)
# A webhook the table keeps refusing is handed out this often (each after the visibility timeout)
# before it moves to the dead-letter queue: with 6 minutes' visibility, about an hour of refusals.
MAX_RECEIVE_COUNT = contract.SPILL_MAX_RECEIVE_COUNT
# Like the ingest function: a webhook of thousands of records is decoded, validated and written.
MEMORY_MB = 512
TIMEOUT = Duration.seconds(60)
# AWS's advice for an SQS event source: six times the function's timeout.
VISIBILITY_TIMEOUT = Duration.seconds(6 * 60)
BATCH_SIZE = contract.SPILL_BATCH_SIZE
# Two concurrent drains at most (the least Lambda allows): the table just refused writes, so the drain
# takes its time rather than adding to the load.
MAX_CONCURRENCY = 2


class Spill(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        store: EventStore,
        encryption_key: kms.IKey | None = None,
    ) -> None:
        """`encryption_key` encrypts the queues, the bucket and the drain's logs (None: SQS's and S3's
        own keys)."""
        super().__init__(scope, construct_id)
        self.encryption_key = encryption_key
        self.dead_letter_queue = queues.queue(
            self,
            "DeadLetterQueue",
            encryption_key=encryption_key,
            retention_period=RETENTION,
            removal_policy=settings.removal_policy,
            is_dead_letter_queue=True,
        )
        Validations.of(self.dead_letter_queue).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="This queue is the spill drain's dead-letter queue: spilled webhooks the table kept "
                "refusing wait here for an operator to redrive them (docs/reliability.md)",
            )
        )
        self.queue = queues.queue(
            self,
            "Queue",
            encryption_key=encryption_key,
            retention_period=RETENTION,
            removal_policy=settings.removal_policy,
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=MAX_RECEIVE_COUNT, queue=self.dead_letter_queue
            ),
            visibility_timeout=VISIBILITY_TIMEOUT,
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED if encryption_key is None else s3.BucketEncryption.KMS,
            encryption_key=encryption_key,
            bucket_key_enabled=encryption_key is not None,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=OBJECT_EXPIRATION, abort_incomplete_multipart_upload_after=Duration.days(1)
                )
            ],
            removal_policy=settings.removal_policy,
        )
        Validations.of(self.bucket).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1",
                reason="The spill bucket holds a webhook only while the table refuses it; who wrote and read "
                "its objects is the API function and the drain, both traced and logged (CloudTrail data "
                "events can be turned on per account); access logs would need another bucket of their own",
            )
        )
        for rule, reason in (
            (
                "s3_bucket_versioning_enabled_check",
                "each object is written once under a fresh key and expires after the queue's retention; "
                "versions would only keep personal data longer",
            ),
            (
                "s3_bucket_logging_enabled_check",
                "as for cdk-nag's S1, the two functions that use the bucket are logged and traced",
            ),
            ("s3_bucket_object_lock_enabled_check", "its objects must expire, and a lock would keep them"),
            (
                "s3_event_notifications_enabled_check",
                "nothing reacts to its objects: the queue message that names an object is the notification",
            ),
        ):
            acknowledge(self.bucket, rule, f"The spill bucket: {reason}")
        if encryption_key is None:
            acknowledge(
                self.bucket,
                "s3_bucket_default_encryption_kms_check",
                "This stage leaves customer_managed_key false in cdk.json: S3 encrypts the spill bucket "
                "with its own keys (SSE-S3); customer_managed_key true encrypts it with the stack's KMS key",
            )

        self.drain = PowertoolsFunction(
            self,
            "Drain",
            description="Stores spilled Customers Mail Cloud webhooks once the event table takes them again",
            handler=HANDLER,
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            environment={
                **settings.ingest_environment(),
                str(DrainSettings.model_fields["table_name"].alias): store.table.table_name,
            },
            settings=settings,
            encryption_key=encryption_key,
        )
        self.drain.function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=BATCH_SIZE,
                report_batch_item_failures=True,
                max_concurrency=MAX_CONCURRENCY,
            )
        )
        store.grant_batch_write(self.drain.function)
        self._grant_objects(self.drain.role, "s3:GetObject", "kms:Decrypt")

    def grant_spill(self, function: lambda_.IFunction, role: iam.IRole) -> None:
        """What the API function needs to spill: send to the queue, put into the bucket, no more."""
        iam.Grant.add_to_principal(
            grantee=function, actions=["sqs:SendMessage"], resource_arns=[self.queue.queue_arn]
        )
        if self.encryption_key is not None:  # SQS's producers: a data key, and Decrypt to reuse it
            self.encryption_key.grant(function, "kms:GenerateDataKey", "kms:Decrypt")
        self._grant_objects(role, "s3:PutObject", "kms:GenerateDataKey")

    def _grant_objects(self, role: iam.IRole, action: str, key_action: str) -> None:
        iam.Grant.add_to_principal(
            grantee=role, actions=[action], resource_arns=[self.bucket.arn_for_objects(f"{OBJECT_PREFIX}*")]
        )
        if self.encryption_key is not None:
            self.encryption_key.grant(role, key_action)
        bucket_id = Stack.of(self).get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
        Validations.of(role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{OBJECT_PREFIX}*]",
                reason=f"{action} on the spill bucket's objects only: each spilled webhook gets a fresh key "
                f"under {OBJECT_PREFIX}, unknown before it is written",
            )
        )
