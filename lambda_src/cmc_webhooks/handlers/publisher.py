"""The stream publisher: newly stored events of the published kinds -> the custom event bus.

The event source mapping's filter hands it only INSERTs of those kinds, so a record posted
twice (a MODIFY of an identical item) is never published twice. All entries of a batch go
out together (PutEvents, 10 at a time); only records whose entries still fail are reported
back, as partial batch failures, for Lambda to retry and finally send to the on-failure queue.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from cmc_webhooks import contract
from cmc_webhooks.dal.dynamodb import deserialize
from cmc_webhooks.dal.eventbridge import EventBridgePublisher
from cmc_webhooks.logic.publish import published_kind, put_events_entry
from cmc_webhooks.settings import get_publisher_settings

logger = Logger(service=contract.SERVICE_NAME)
metrics = Metrics(namespace=contract.METRICS_NAMESPACE, service=contract.SERVICE_NAME)
tracer = Tracer(service=contract.SERVICE_NAME, patch_modules=contract.TRACED_MODULES)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


class PublishFailed(Exception):
    """This record's event was refused by EventBridge after every retry."""


@cache
def publisher() -> EventBridgePublisher:
    return EventBridgePublisher()


@tracer.capture_method
def publish_records(records: list[dict[str, Any]]) -> set[str]:
    """Publish the events of these stream records; the sequence numbers of those that failed."""
    settings = get_publisher_settings()
    entries: list[dict[str, Any]] = []
    sources: list[str] = []
    for record in records:
        image = record.get("dynamodb", {}).get("NewImage")
        item = deserialize(image) if image else None
        kind = published_kind(item, settings.published_kinds) if item else None
        if item is None or kind is None:
            continue  # the mapping's filter lets only published kinds through; nothing else to do
        entries.append(
            put_events_entry(item, kind, bus_name=settings.event_bus_name, source=settings.event_source)
        )
        sources.append(record["dynamodb"]["SequenceNumber"])
    failed = publisher().publish(entries)
    metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=len(entries) - len(failed))
    metrics.add_metric(name="EventsPublishFailed", unit=MetricUnit.Count, value=len(failed))
    logger.info(
        "stream batch published", extra={"records": len(records), "published": len(entries) - len(failed)}
    )
    return {sources[index] for index in failed}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    failed = publish_records(event.get("Records", []))

    def record_handler(record: DynamoDBRecord) -> None:
        if record.dynamodb and record.dynamodb.sequence_number in failed:
            raise PublishFailed(f"event of stream record {record.dynamodb.sequence_number} was not published")

    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
