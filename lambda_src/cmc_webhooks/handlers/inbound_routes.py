"""The inbound mail routes of the API function: CMC's inbound webhook and the lookup of a stored mail.

Thin: the use cases are in logic/inbound.py; the dependencies come from the routing context the API
handler sets. Errors are answered as JSON by the API's exception handler.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from cmc_webhooks import contract
from cmc_webhooks.errors import PayloadTooLarge, StorageUnavailable
from cmc_webhooks.logic.inbound import lookup_inbound, receive_inbound
from cmc_webhooks.logic.receive import WebhookRequest
from cmc_webhooks.wiring import ApiDependencies, InboundDependencies

Metric = contract.Metric
metrics = Metrics(namespace=contract.METRICS_NAMESPACE, service=contract.SERVICE_NAME)
router = Router()  # type: ignore[no-untyped-call]


def _dependencies() -> tuple[ApiDependencies, InboundDependencies]:
    deps: ApiDependencies = router.context["dependencies"]
    if deps.inbound is None:  # misconfigured: refuse, store nothing
        raise StorageUnavailable("inbound mail is not configured: CMC_INBOUND_BUCKET_NAME is not set")
    return deps, deps.inbound


@router.post(contract.INBOUND_WEBHOOK_PATH, summary="Receive a mail from CMC's inbound webhook")
def receive_inbound_mail() -> dict[str, object]:
    event = router.current_event
    headers = event.headers
    deps, inbound = _dependencies()
    try:
        result = receive_inbound(
            WebhookRequest(
                body=event.body,
                is_base64=bool(event.is_base64_encoded),
                content_type=headers.get("content-type"),
                authorization=headers.get("authorization"),
            ),
            store=inbound.store,
            objects=inbound.objects,
            credentials=deps.credentials,
            max_body_bytes=deps.settings.max_body_bytes,
            retention=timedelta(days=deps.settings.retention_days),
            received_at=datetime.now(UTC),
        )
    except PayloadTooLarge:
        metrics.add_metric(name=Metric.INBOUND_TOO_LARGE, unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name=Metric.INBOUND_RECEIVED, unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=Metric.INBOUND_DUPLICATED, unit=MetricUnit.Count, value=int(result.duplicate))
    # The request's trace is its metrics line: the mail's id, its kind and the request id, no log line;
    # addresses, subjects, file names and bodies stay out of both.
    metrics.add_metadata(key="inbound_id", value=result.inbound_id)
    metrics.add_metadata(key="mail_kind", value=result.kind)
    if isinstance(event, APIGatewayProxyEvent):  # what the API's resolver hands its routes
        metrics.add_metadata(key="request_id", value=event.request_context.request_id)
    return result.summary()


@router.get(
    contract.INBOUND_LOOKUP_PATH.replace("{inbound_id}", "<inbound_id>"),
    summary="A stored inbound mail's metadata and short-lived URLs of its bodies and attachments",
)
def get_inbound_mail(inbound_id: str) -> dict[str, Any]:
    _, inbound = _dependencies()
    view = lookup_inbound(inbound.store, inbound.objects, inbound_id)
    metrics.add_metric(name=Metric.INBOUND_LOOKUPS, unit=MetricUnit.Count, value=1)
    return view.model_dump(by_alias=True)
