"""The suppression tracker: the stream's second consumer, beside the publisher (docs/suppressions.md).
It keeps the state derived from what was stored, two jobs in one mapping:

- the day counters of the reconciliation (docs/reconcile.md): the delivery events the batch newly
  inserted, added per composition, day and status, first;
- each address's suppression state: it recomputes the addresses the batch's new bounces, failures,
  blocks and successful deliveries, such events deleted by TTL and new manual decisions may change,
  writes their state items, and puts a "Recipient Suppressed" or "Recipient Unsuppressed" event on the
  bus for each state item whose write changed the state.

Its mapping's filter (contract.suppression_filter_patterns) hands it every new delivery event, the other
new events that may suppress an address, such events deleted by TTL, new decisions and the state items
that changed. Records whose address it could not recompute are answered as batch item failures: the
mapping retries them, then sends their stream location to the on-failure queue. A counter update that
fails fails the whole batch, which the mapping hands over again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cmc_webhooks import contract
from cmc_webhooks.dal.dynamodb import DynamoDBEventStore
from cmc_webhooks.dal.eventbridge import EventBridgePublisher
from cmc_webhooks.dal.reconcile_store import ReconcileTableStore
from cmc_webhooks.dal.suppressions import DynamoDBSuppressionStore, stream_entry
from cmc_webhooks.logic.day_counts import DayCounterStore, count_inserted
from cmc_webhooks.logic.publish import EventPublisher
from cmc_webhooks.logic.suppressions import AddressEvents, SuppressionStore, track
from cmc_webhooks.settings import TrackerSettings

logger = Logger(service=contract.SERVICE_NAME)
metrics = Metrics(namespace=contract.METRICS_NAMESPACE, service=contract.SERVICE_NAME)
tracer = Tracer(service=contract.SERVICE_NAME, patch_modules=contract.TRACED_MODULES)


@dataclass(frozen=True)
class TrackerDependencies:
    settings: TrackerSettings
    events: AddressEvents
    store: SuppressionStore
    publisher: EventPublisher
    counters: DayCounterStore


def build_dependencies(env: Mapping[str, str]) -> TrackerDependencies:
    settings = TrackerSettings.from_env(env)
    return TrackerDependencies(
        settings=settings,
        events=DynamoDBEventStore(settings.table_name),
        store=DynamoDBSuppressionStore(settings.table_name),
        publisher=EventBridgePublisher(),
        counters=ReconcileTableStore(settings.table_name, retention=timedelta(days=settings.retention_days)),
    )


# Built on the first invocation, not at import; a misconfigured function fails every invocation.
@cache
def tracker_dependencies() -> TrackerDependencies:
    return build_dependencies(os.environ)


LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def make_handler(get_dependencies: Callable[[], TrackerDependencies]) -> LambdaHandler:
    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        deps = get_dependencies()
        records = event.get("Records", [])
        entries = [
            (record["dynamodb"]["SequenceNumber"], stream_entry(record["dynamodb"])) for record in records
        ]
        # The events the batch inserted (decisions, state items and deletions are not counted).
        inserted = [
            entry
            for record, (_, entry) in zip(records, entries, strict=True)
            if record.get("eventName") == "INSERT" and isinstance(entry, dict)
        ]
        counts = count_inserted(inserted)  # delivery events only; a batch handed over again counts again
        deps.counters.add_day_counts(counts)
        result = track(
            entries,
            events=deps.events,
            store=deps.store,
            policy=deps.settings.suppression_policy,
            publisher=deps.publisher,
            bus_name=deps.settings.event_bus_name,
            source=deps.settings.event_source,
        )
        metrics.add_metric(
            name=contract.Metric.SUPPRESSION_CHANGES, unit=MetricUnit.Count, value=result.changed
        )
        metrics.add_metric(
            name=contract.Metric.EVENTS_PUBLISHED, unit=MetricUnit.Count, value=result.announced
        )
        # Counts only: addresses stay out of logs.
        logger.info(
            "stream batch tracked",
            extra={
                "records": len(records),
                "counters": len(counts),
                "changed": result.changed,
                "announced": result.announced,
            },
        )
        return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in result.failed]}

    return handler  # type: ignore[no-any-return]


lambda_handler = make_handler(tracker_dependencies)
