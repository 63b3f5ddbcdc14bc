"""The spill drain: webhooks the event table refused, from the spill queue into the table.

Lambda's SQS event source hands it batches; each message is one webhook, ingested by the same logic as
the API's (logic/receive.py `ingest_spilled`: same items, same keys, same `received_at`). A message whose
webhook the table still refuses is answered as a batch item failure: SQS hands it out again after the
visibility timeout and, after the queue's maxReceiveCount, moves it to the drain's dead-letter queue.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from cmc_webhooks import contract
from cmc_webhooks.dal.dynamodb import DynamoDBEventStore
from cmc_webhooks.dal.spill import SpillReader
from cmc_webhooks.logic.ingest import IngestOptions
from cmc_webhooks.logic.receive import EventWriter, ingest_spilled
from cmc_webhooks.settings import DrainSettings
from cmc_webhooks.wiring import ingest_options

logger = Logger(service=contract.SERVICE_NAME)
metrics = Metrics(namespace=contract.METRICS_NAMESPACE, service=contract.SERVICE_NAME)
tracer = Tracer(service=contract.SERVICE_NAME, patch_modules=contract.TRACED_MODULES)


@dataclass(frozen=True)
class DrainDependencies:
    store: EventWriter
    reader: SpillReader
    options: IngestOptions


# Built on the first invocation, not at import; a misconfigured function fails every invocation.
@cache
def drain_dependencies() -> DrainDependencies:
    settings = DrainSettings.from_env(os.environ)
    return DrainDependencies(
        store=DynamoDBEventStore(settings.table_name), reader=SpillReader(), options=ingest_options(settings)
    )


LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def make_handler(get_dependencies: Callable[[], DrainDependencies]) -> LambdaHandler:
    def drain(record: SQSRecord) -> None:
        deps = get_dependencies()
        # StorageUnavailable (or anything else) fails this message only; the others are done.
        batch = ingest_spilled(deps.reader.webhook(record.body), store=deps.store, options=deps.options)
        metrics.add_metric(name=contract.Metric.WEBHOOKS_DRAINED, unit=MetricUnit.Count, value=1)
        metrics.add_metric(name=contract.Metric.RECORDS_WRITTEN, unit=MetricUnit.Count, value=batch.written)

    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        processor = BatchProcessor(event_type=EventType.SQS)
        response = process_partial_response(
            event=event, record_handler=drain, processor=processor, context=context
        )
        failed = len(response.get("batchItemFailures", []))
        logger.info(
            "spill batch drained", extra={"messages": len(event.get("Records", [])), "failed": failed}
        )
        return dict(response)

    return handler  # type: ignore[no-any-return]


lambda_handler = make_handler(drain_dependencies)
