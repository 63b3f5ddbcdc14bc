"""The Lambda entry point: Powertools wiring, routes, and errors as JSON responses.

Thin on purpose: decoding and item building live in logic/, AWS calls in dal/.
"""

from __future__ import annotations

import gc

# No cyclic garbage collection while the cold start imports boto3, Powertools and pydantic: those
# imports allocate hundreds of thousands of long-lived objects, and the collector would walk them
# again and again (~50 ms of every cold start). Re-enabled at the end of this module.
gc.disable()

import json
from datetime import UTC, datetime, timedelta
from functools import cache, partial
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from cmc_webhooks import contract
from cmc_webhooks.dal import EventStore
from cmc_webhooks.dal.credentials import CredentialSource, SecretsManagerCredentials, StaticCredentials
from cmc_webhooks.dal.dynamodb import DynamoDBEventStore
from cmc_webhooks.errors import PayloadTooLarge, Unauthorized, WebhookError
from cmc_webhooks.logic.auth import authenticate
from cmc_webhooks.logic.decode import webhook_source
from cmc_webhooks.logic.ingest import IngestOptions, build_batch, read_webhook
from cmc_webhooks.logic.lookup import lookup_message, lookup_recipient
from cmc_webhooks.models.api import ErrorBody, IngestSummary, MessageHistory, RecipientHistory
from cmc_webhooks.settings import get_settings, parse_time_zone

# The sender names the event type: a bounded length of it goes into metrics and logs.
MAX_LOGGED_EVENT_TYPE = 64

logger = Logger(service=contract.SERVICE_NAME)
metrics = Metrics(namespace=contract.METRICS_NAMESPACE, service=contract.SERVICE_NAME)
tracer = Tracer(service=contract.SERVICE_NAME, patch_modules=contract.TRACED_MODULES)
# Japanese subjects and reasons stay readable in responses (JSON is UTF-8 by definition).
app = APIGatewayRestResolver(
    serializer=partial(json.dumps, ensure_ascii=False, separators=(",", ":"), default=str)
)


@cache
def event_store() -> EventStore:
    return DynamoDBEventStore(get_settings().table_name)


@cache
def credential_source() -> CredentialSource:
    settings = get_settings()
    if settings.auth_secret_name:
        return SecretsManagerCredentials(settings.auth_secret_name)
    return StaticCredentials(settings.local_credentials())


@cache
def ingest_options() -> IngestOptions:
    settings = get_settings()
    return IngestOptions(
        time_zone=parse_time_zone(settings.time_zone),
        retention=timedelta(days=settings.retention_days),
        max_records=settings.max_records,
    )


def _responses(ok: type[BaseModel], *errors: int) -> dict[int, OpenAPIResponse]:
    """What a route answers, for the OpenAPI document the resolver generates."""
    responses: dict[int, OpenAPIResponse] = {
        200: {"description": "OK", "content": {"application/json": {"model": ok}}}
    }
    for status in errors:
        responses[status] = {
            "description": HTTPStatus(status).phrase,
            "content": {"application/json": {"model": ErrorBody}},
        }
    return responses


@app.post(
    contract.WEBHOOK_PATH,
    summary="Receive a CMC event webhook (JSON, form-encoded or multipart)",
    responses=_responses(IngestSummary, 400, 401, 413, 415, 503),
)
def receive_webhook() -> dict[str, int]:
    event = app.current_event
    max_body_bytes = get_settings().max_body_bytes
    if len(event.body or "") > max_body_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_body_bytes} bytes")
    credentials = credential_source().credentials()
    headers = event.headers  # a case-insensitive copy of all the request's headers on every access
    authorization = headers.get("authorization")
    try:
        webhook = read_webhook(
            webhook_source(
                event.body,
                is_base64=bool(event.is_base64_encoded),
                content_type=headers.get("content-type"),
            )
        )
    except WebhookError:
        # Only an authenticated sender learns what is wrong with its body.
        authenticate(credentials, authorization=authorization, api_key=None)
        raise
    authenticate(credentials, authorization=authorization, api_key=webhook.api_key)
    batch = build_batch(webhook, options=ingest_options(), received_at=datetime.now(UTC))
    event_store().write(batch.items)  # raises StorageUnavailable: never 200 with data missing

    summary = batch.summary()
    event_type = str(webhook.event_type)[:MAX_LOGGED_EVENT_TYPE]
    # Every request's counts go out in its metrics line (CloudWatch EMF, in the function's log), with
    # the event type and the API Gateway request id as metadata: searchable like a log line, and
    # matched to the access log by the request id.
    metrics.add_metric(name="RecordsReceived", unit=MetricUnit.Count, value=batch.received)
    metrics.add_metric(name="RecordsWritten", unit=MetricUnit.Count, value=batch.written)
    metrics.add_metadata(key="event_type", value=event_type)
    metrics.add_metadata(key="request_id", value=event.request_context.request_id)
    # The exceptions only when they happen: a metric costs CPU on every request, and a Sum reads the same.
    exceptions = False
    for name, unit_count in (
        ("RecordsDuplicated", batch.duplicates),
        ("RecordsQuarantined", batch.quarantined),
        ("RecordsUnrecognized", batch.unrecognized),
        ("RecordsWithUnknownFields", batch.with_unknown_fields),
    ):
        if unit_count:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=unit_count)
            exceptions = True
    if exceptions:  # a log line too (a Powertools line costs ~0.1 ms of CPU: not on every request)
        # Counts and the event type only: addresses, subjects and bodies stay out of logs.
        logger.info("webhook stored with exceptions", extra={"event_type": event_type, **summary})
    return summary


@app.get(
    contract.MESSAGE_LOOKUP_PATH.replace("{message_id}", "<message_id>"),
    summary="A message's events and each recipient's current status",
    responses=_responses(MessageHistory, 404, 503),
)
def get_message(message_id: str) -> dict[str, Any]:
    history = lookup_message(event_store(), unquote(message_id))
    metrics.add_metric(name="MessageLookups", unit=MetricUnit.Count, value=1)
    return history.model_dump()


@app.get(
    contract.RECIPIENT_LOOKUP_PATH.replace("{address}", "<address>"),
    summary="An address's events and whether it is suppressed",
    responses=_responses(RecipientHistory, 503),
)
def get_recipient(address: str) -> dict[str, Any]:
    history = lookup_recipient(event_store(), unquote(address), get_settings().suppression_policy())
    metrics.add_metric(name="RecipientLookups", unit=MetricUnit.Count, value=1)
    return history.model_dump()


@app.not_found
def no_such_route(_: Exception) -> Response[str]:
    metrics.add_metric(name="RequestsRefused", unit=MetricUnit.Count, value=1)
    return Response(
        status_code=404,
        content_type=content_types.APPLICATION_JSON,
        body=ErrorBody(error="not_found", message="no such route").model_dump_json(),
    )


@app.exception_handler(WebhookError)  # type: ignore[untyped-decorator]
def handle_webhook_error(error: WebhookError) -> Response[str]:
    if error.status >= 500:
        logger.exception("request failed", extra={"error_code": error.code})
        metrics.add_metric(name="StorageFailures", unit=MetricUnit.Count, value=1)
    elif isinstance(error, Unauthorized):
        logger.warning("authentication failed", extra={"error_code": error.code})
        metrics.add_metric(name="AuthFailures", unit=MetricUnit.Count, value=1)
    else:
        logger.info("request refused", extra={"error_code": error.code, "status": error.status})
        metrics.add_metric(name="RequestsRefused", unit=MetricUnit.Count, value=1)
    return Response(
        status_code=error.status,
        content_type=content_types.APPLICATION_JSON,
        body=ErrorBody(error=error.code, message=error.message).model_dump_json(),
        headers=error.headers,
    )


# Traces get the invocation and its AWS calls, never a response: lookups answer with addresses and
# subjects, which stay out of traces as out of logs. (No subsegment per route either: one per request
# is what the trace needs, and each costs CPU.)
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Log lines carry API Gateway's request id as their correlation id. Read here, not through
    # Logger's correlation_id_path: its JMESPath search built a function table and formatted a debug
    # message on every request, ~20-35 µs of CPU (docs/benchmarks.md).
    request_context = event.get("requestContext")
    logger.set_correlation_id(request_context.get("requestId") if isinstance(request_context, dict) else None)
    return app.resolve(event, context)


# The import is done: what it allocated lives as long as the function, so it goes to the permanent
# generation (collections no longer walk it, on this cold start's first request or later), and the
# collector is back on.
gc.freeze()
gc.enable()
