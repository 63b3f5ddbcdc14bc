"""The stream publisher: the event table's stream -> a Lambda function -> PutEvents on the bus.

The event source mapping's filter passes only newly inserted events of the published kinds
(contract.stream_filter_patterns, the same patterns `make local`'s poller applies). Records the
function keeps failing on end, named by their stream location, in an encrypted on-failure queue.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from cmc_webhooks import contract
from cmc_webhooks.settings import PublisherSettings
from infra import queues
from infra.powertools_function import PowertoolsFunction
from infra.settings import StageSettings

HANDLER = "cmc_webhooks.handlers.publisher.lambda_handler"
# 256 MB: a batch is at most STREAM_BATCH_SIZE small images turned into PutEvents entries; the work is
# waiting on EventBridge, and 256 MB still gives the Powertools/pydantic cold start enough CPU.
MEMORY_MB = 256
# 60 s: PutEvents of a full batch takes well under a second, and the adapter's own backoff for
# failed entries adds at most a few seconds; the rest is headroom for botocore's retries while
# EventBridge is slow. A timeout fails the batch as a whole, which the mapping then bisects and retries.
TIMEOUT = Duration.seconds(60)
# Up to 1 s to fill a batch: bounces reach subscribers within about a second, in fewer invocations.
MAX_BATCHING_WINDOW = Duration.seconds(1)
# A record the function could not publish within 6 h goes to the on-failure queue instead of holding
# its shard back; the stream keeps it for the remaining ~18 h of its 24 h, so it can still be read
# and re-published from the location the on-failure message names (docs/events.md).
MAX_RECORD_AGE = Duration.hours(6)
# Long enough for an operator to act on a failure after a weekend or a holiday.
ON_FAILURE_RETENTION = Duration.days(14)


class StreamPublisher(PowertoolsFunction):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        table: dynamodb.ITable,
        bus: events.IEventBus,
        encryption_key: kms.IKey | None = None,
    ) -> None:
        """`encryption_key` encrypts the log group and the on-failure queue (None: the services' own keys);
        the stream's reads are granted on the table's key by CDK's event source."""
        super().__init__(
            scope,
            construct_id,
            description="Publishes newly stored Customers Mail Cloud bounces and failures to EventBridge",
            handler=HANDLER,
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            environment={
                **settings.publisher_environment(),
                str(PublisherSettings.model_fields["event_bus_name"].alias): bus.event_bus_name,
            },
            settings=settings,
            encryption_key=encryption_key,
            extra_wildcard_reason="The event source mapping on the table's stream needs "
            "dynamodb:ListStreams, an action that takes no resource (CDK's DynamoEventSource grants it "
            "on *); the stream reads themselves are granted on the stream's ARN only",
        )
        self.on_failure_queue = queues.queue(
            self,
            "OnFailureQueue",
            encryption_key=encryption_key,
            retention_period=ON_FAILURE_RETENTION,
            removal_policy=settings.removal_policy,
            is_dead_letter_queue=True,
        )
        if encryption_key is not None:
            Validations.of(self.role).acknowledge(
                *(
                    Acknowledgment(
                        id=f"AwsSolutions-IAM5[Action::{action}]",
                        reason="The event source mapping sends failed records to the on-failure queue with "
                        "this role; CDK's grant to send to a KMS-encrypted queue adds kms:GenerateDataKey* "
                        "and kms:ReEncrypt* on that one key (the resource is the key's ARN, not *)",
                    )
                    for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*")
                )
            )
        Validations.of(self.on_failure_queue).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="This queue is itself the dead end of the publisher's stream mapping (its on-failure "
                "destination): each message names stream records that could not be published, for an "
                "operator to re-publish (docs/events.md); there is nothing further to send them to",
            )
        )
        self.event_source = sources.DynamoEventSource(
            table,
            # TRIM_HORIZON: the mapping starts at the oldest record the stream still holds (24 h), so
            # events stored before the mapping existed or while it was being replaced are published
            # too. LATEST would silently skip them; a re-published event is harmless, since
            # subscribers deduplicate on detail.event_id.
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=contract.STREAM_BATCH_SIZE,
            max_batching_window=MAX_BATCHING_WINDOW,
            bisect_batch_on_error=True,
            retry_attempts=contract.STREAM_RETRY_ATTEMPTS,
            max_record_age=MAX_RECORD_AGE,
            report_batch_item_failures=True,
            on_failure=sources.SqsDlq(self.on_failure_queue),
            filters=[
                lambda_.FilterCriteria.filter(pattern)
                for pattern in contract.stream_filter_patterns(settings.published_kinds)
            ],
        )
        self.function.add_event_source(self.event_source)
        bus.grant_put_events_to(self.function)
