"""What a function reading the event table's stream shares with the other reader: its event source
mapping's batching, retries and starting position, and the encrypted on-failure queue where records it
keeps failing on end, named by their stream location. The readers differ in their filters and in what
an operator does with the queue's messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs

from cmc_webhooks import contract
from infra import queues
from infra.powertools_function import PowertoolsFunction
from infra.settings import StageSettings

# The PowertoolsFunction `extra_wildcard_reason` of every stream reader.
LIST_STREAMS_REASON = (
    "The event source mapping on the table's stream needs dynamodb:ListStreams, an action that takes "
    "no resource (CDK's DynamoEventSource grants it on *); the stream reads themselves are granted on the "
    "stream's ARN only"
)
# Up to 1 s to fill a batch: bounces reach subscribers within about a second, in fewer invocations.
MAX_BATCHING_WINDOW = Duration.seconds(1)
# A record the function could not handle within 6 h goes to the on-failure queue instead of holding
# its shard back; the stream keeps it for the remaining ~18 h of its 24 h, so it can still be read
# and handled again from the location the on-failure message names (docs/events.md).
MAX_RECORD_AGE = Duration.hours(6)
# Long enough for an operator to act on a failure after a weekend or a holiday.
ON_FAILURE_RETENTION = Duration.days(14)


def read_stream(
    reader: PowertoolsFunction,
    *,
    table: dynamodb.ITable,
    settings: StageSettings,
    encryption_key: kms.IKey | None,
    filter_patterns: Sequence[Mapping[str, Any]],
    on_failure_reason: str,
) -> sqs.Queue:
    """Map the table's stream, filtered by `filter_patterns`, to `reader`'s function; returns the
    on-failure queue (encrypted with `encryption_key`; None: SQS's own key). `on_failure_reason` says
    why that queue needs no dead-letter queue of its own (cdk-nag SQS3)."""
    on_failure_queue = queues.queue(
        reader,
        "OnFailureQueue",
        encryption_key=encryption_key,
        retention_period=ON_FAILURE_RETENTION,
        removal_policy=settings.removal_policy,
        is_dead_letter_queue=True,
    )
    if encryption_key is not None:
        Validations.of(reader.role).acknowledge(
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
    Validations.of(on_failure_queue).acknowledge(
        Acknowledgment(id="AwsSolutions-SQS3", reason=on_failure_reason)
    )
    reader.function.add_event_source(
        sources.DynamoEventSource(
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
            on_failure=sources.SqsDlq(on_failure_queue),
            filters=[lambda_.FilterCriteria.filter(pattern) for pattern in filter_patterns],
        )
    )
    return on_failure_queue
