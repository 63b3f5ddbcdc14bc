"""The stream publisher: newly stored events of the published kinds -> the custom event bus.

The event source mapping's filter hands it only INSERTs of those kinds, so a record posted twice (a
MODIFY of an identical item) is never published twice. The records whose events EventBridge still
refuses are answered as batch item failures: the mapping retries them, then sends their stream
location to the on-failure queue.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cmc_webhooks import contract
from cmc_webhooks.dal.dynamodb import deserialize
from cmc_webhooks.dal.eventbridge import EventBridgePublisher
from cmc_webhooks.dal.inbound import inbound_item, is_inbound_image
from cmc_webhooks.logic.inbound_publish import publish_inbound
from cmc_webhooks.logic.publish import EventPublisher, publish_items
from cmc_webhooks.settings import PublisherSettings

logger = Logger(service=contract.SERVICE_NAME)
metrics = Metrics(namespace=contract.METRICS_NAMESPACE, service=contract.SERVICE_NAME)
tracer = Tracer(service=contract.SERVICE_NAME, patch_modules=contract.TRACED_MODULES)


@dataclass(frozen=True)
class PublisherDependencies:
    settings: PublisherSettings
    publisher: EventPublisher


def build_dependencies(env: Mapping[str, str]) -> PublisherDependencies:
    return PublisherDependencies(settings=PublisherSettings.from_env(env), publisher=EventBridgePublisher())


# Built on the first invocation, not at import; a misconfigured function fails every invocation.
@cache
def publisher_dependencies() -> PublisherDependencies:
    return build_dependencies(os.environ)


# Lambda passes its own context object; Powertools types it as LambdaContext.
LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def make_handler(get_dependencies: Callable[[], PublisherDependencies]) -> LambdaHandler:
    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        deps = get_dependencies()
        records = event.get("Records", [])
        images = [
            (record["dynamodb"]["SequenceNumber"], record["dynamodb"]["NewImage"])
            for record in records
            if "NewImage" in record.get("dynamodb", {})
        ]
        items = [(sequence, deserialize(image)) for sequence, image in images if not is_inbound_image(image)]
        result = publish_items(items, settings=deps.settings, publisher=deps.publisher)
        # Inbound mail's items: `Email Received` (logic/inbound_publish.py).
        mails = [(sequence, inbound_item(image)) for sequence, image in images if is_inbound_image(image)]
        received = publish_inbound(mails, settings=deps.settings, publisher=deps.publisher)
        failed = result.failed + received.failed
        published = result.entries + received.entries - len(failed)
        metrics.add_metric(name=contract.Metric.EVENTS_PUBLISHED, unit=MetricUnit.Count, value=published)
        metrics.add_metric(
            name=contract.Metric.EVENTS_PUBLISH_FAILED, unit=MetricUnit.Count, value=len(failed)
        )
        logger.info("stream batch published", extra={"records": len(records), "published": published})
        return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}

    return handler


lambda_handler = make_handler(publisher_dependencies)
