"""The Lambda entry point of the API: Powertools wiring, routes, and errors as JSON answers.

Thin on purpose: the routes adapt HTTP to the use cases in logic/; the dependencies come from
cmc_webhooks.wiring, and tests hand in their own through `make_handler`.
"""

from __future__ import annotations

import gc

# No cyclic garbage collection while the cold start imports Powertools, pydantic and boto3 (their
# long-lived objects, walked again and again): ~6% of cold_start_ratio in make bench. Back on below.
gc.disable()

import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from cmc_webhooks import contract, errors
from cmc_webhooks.handlers import pages_routes
from cmc_webhooks.handlers.inbound_routes import router as inbound_router
from cmc_webhooks.handlers.suppression_routes import router as suppression_router
from cmc_webhooks.logic.lookup import lookup_recipient
from cmc_webhooks.logic.receive import WebhookRequest, receive_webhook
from cmc_webhooks.models.api import ErrorBody, IngestSummary, MessageHistory, RecipientHistory
from cmc_webhooks.wiring import ApiDependencies, api_dependencies

Metric = contract.Metric
CMC_EVENT_TYPES = frozenset(kind.event_type for kind in contract.PUBLISHABLE_KINDS.values())
HTTP_STATUS: dict[type[errors.WebhookError], HTTPStatus] = {
    errors.InvalidEnvelope: HTTPStatus.BAD_REQUEST,
    errors.InvalidQuery: HTTPStatus.BAD_REQUEST,
    errors.Unauthorized: HTTPStatus.UNAUTHORIZED,
    errors.MessageNotFound: HTTPStatus.NOT_FOUND,
    errors.PayloadTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    errors.TooManyRecords: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    errors.UnsupportedMediaType: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    errors.StorageUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
    errors.CredentialsUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
    errors.InvalidRequest: HTTPStatus.BAD_REQUEST,
    errors.Forbidden: HTTPStatus.FORBIDDEN,
}

logger = Logger(service=contract.SERVICE_NAME)
metrics = Metrics(namespace=contract.METRICS_NAMESPACE, service=contract.SERVICE_NAME)
tracer = Tracer(service=contract.SERVICE_NAME, patch_modules=contract.TRACED_MODULES)
# Japanese subjects and reasons stay readable in answers (JSON is UTF-8 by definition).
app = APIGatewayRestResolver(
    serializer=partial(json.dumps, ensure_ascii=False, separators=(",", ":"), default=str)
)
app.include_router(inbound_router)
app.include_router(suppression_router)


def dependencies() -> ApiDependencies:
    """This request's dependencies, handed to the resolver by the handler (Powertools' routing context)."""
    deps: ApiDependencies = app.context["dependencies"]
    return deps


def _responses(ok: type[BaseModel], *errors: HTTPStatus) -> dict[int, OpenAPIResponse]:
    """What a route answers, for the OpenAPI document the resolver generates."""
    responses: dict[int, OpenAPIResponse] = {
        200: {"description": "OK", "content": {"application/json": {"model": ok}}}
    }
    for status in errors:
        responses[status] = {
            "description": status.phrase,
            "content": {"application/json": {"model": ErrorBody}},
        }
    return responses


@app.post(
    contract.WEBHOOK_PATH,
    summary="Receive a CMC event webhook (JSON, form-encoded or multipart)",
    responses=_responses(IngestSummary, *(status for status in HTTP_STATUS.values() if status != 404)),
)
def receive() -> dict[str, int | bool]:
    event = app.current_event
    headers = event.headers  # a case-insensitive copy of all the request's headers, made on every access
    deps = dependencies()
    received = receive_webhook(
        WebhookRequest(
            body=event.body,
            is_base64=bool(event.is_base64_encoded),
            content_type=headers.get("content-type"),
            authorization=headers.get("authorization"),
            content_encoding=headers.get("content-encoding"),
        ),
        store=deps.store,
        credentials=deps.credentials,
        options=deps.ingest_options,
        max_body_bytes=deps.settings.max_body_bytes,
        received_at=datetime.now(UTC),
        spill=deps.spill,
    )
    batch = received.batch
    # The sender's event type, logged only when it is one CMC sends: any other text could be anything.
    event_type = batch.event_type if batch.event_type in CMC_EVENT_TYPES else "other"
    counts = {
        Metric.RECORDS_RECEIVED: batch.received,
        Metric.RECORDS_WRITTEN: 0 if received.spilled else batch.written,  # spilled: the drain counts them
        Metric.RECORDS_DUPLICATED: batch.duplicates,
        Metric.RECORDS_QUARANTINED: batch.quarantined,
        Metric.RECORDS_UNRECOGNIZED: batch.unrecognized,
        Metric.RECORDS_WITH_UNKNOWN_FIELDS: batch.with_unknown_fields,
    }
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    # The event type and request id ride in the metrics line, matching it to the access log.
    metrics.add_metadata(key="event_type", value=event_type)
    metrics.add_metadata(key="request_id", value=event.request_context.request_id)
    summary = received.summary()
    if received.spilled:  # durable in the spill queue; the drain stores it
        metrics.add_metric(name=Metric.WEBHOOKS_SPILLED, unit=MetricUnit.Count, value=1)
        logger.warning("event store refused; webhook spilled", extra={"event_type": event_type, **summary})
    elif batch.quarantined or batch.unrecognized or batch.with_unknown_fields:
        # Counts and the event type only: addresses, subjects and bodies stay out of logs.
        logger.info("webhook stored with exceptions", extra={"event_type": event_type, **summary})
    return summary


@app.get(
    contract.MESSAGE_LOOKUP_PATH.replace("{message_id}", "<message_id>"),
    summary="A message's events and each recipient's current status",
    responses=_responses(
        MessageHistory, HTTPStatus.BAD_REQUEST, HTTPStatus.NOT_FOUND, HTTPStatus.SERVICE_UNAVAILABLE
    ),
)
def get_message(message_id: str) -> dict[str, Any]:
    # API Gateway passes a path parameter as the client sent it, percent-encoded: decoded once, here.
    return pages_routes.message_page(unquote(message_id))


@app.get(
    contract.RECIPIENT_LOOKUP_PATH.replace("{address}", "<address>"),
    summary="An address's events and whether it is suppressed",
    responses=_responses(RecipientHistory, HTTPStatus.BAD_REQUEST, HTTPStatus.SERVICE_UNAVAILABLE),
)
def get_recipient(address: str) -> dict[str, Any]:
    return recipient_page(unquote(address))


@app.get(
    contract.RECIPIENTS_PATH,
    summary="An address's events and whether it is suppressed, the address as the `address` query parameter",
    responses=_responses(RecipientHistory, HTTPStatus.BAD_REQUEST, HTTPStatus.SERVICE_UNAVAILABLE),
)
def get_recipient_by_query() -> dict[str, Any]:
    address = app.current_event.get_query_string_value("address")
    if not address:
        raise errors.InvalidQuery("address: required, the recipient address to look up")
    return recipient_page(address)


def recipient_page(address: str) -> dict[str, Any]:
    deps = dependencies()
    settings = deps.settings
    paging = pages_routes.page_arguments(app.current_event)
    history = lookup_recipient(
        deps.store,
        address,
        settings.suppression_policy,
        deps.suppressions,
        recipient_index=settings.recipient_index,
        **paging,
    )
    metrics.add_metric(name=Metric.RECIPIENT_LOOKUPS, unit=MetricUnit.Count, value=1)
    return history.model_dump()


app.include_router(pages_routes.router)


def _error_response(status: HTTPStatus, code: str, message: str, headers: dict[str, str]) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=ErrorBody(error=code, message=message).model_dump_json(),
        headers=headers,
    )


@app.not_found
def no_such_route(_: Exception) -> Response[str]:
    metrics.add_metric(name=Metric.REQUESTS_REFUSED, unit=MetricUnit.Count, value=1)
    return _error_response(HTTPStatus.NOT_FOUND, "not_found", "no such route", {})


@app.exception_handler(errors.WebhookError)  # type: ignore[untyped-decorator]
def handle_webhook_error(error: errors.WebhookError) -> Response[str]:
    status = HTTP_STATUS[type(error)]
    headers = {}
    if isinstance(error, errors.CredentialsUnavailable):  # nothing can be checked: the auth alarm's business
        logger.error("credentials unavailable", extra={"error_code": error.code})
        metrics.add_metric(name=Metric.AUTH_FAILURES, unit=MetricUnit.Count, value=1)
    elif status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        logger.exception("request failed", extra={"error_code": error.code})
        metrics.add_metric(name=Metric.STORAGE_FAILURES, unit=MetricUnit.Count, value=1)
    elif isinstance(error, errors.Unauthorized):
        logger.warning("authentication failed", extra={"error_code": error.code})
        metrics.add_metric(name=Metric.AUTH_FAILURES, unit=MetricUnit.Count, value=1)
        if error.basic_configured:
            headers["WWW-Authenticate"] = 'Basic realm="cmc-webhooks", charset="UTF-8"'
    else:
        logger.info("request refused", extra={"error_code": error.code, "status": int(status)})
        metrics.add_metric(name=Metric.REQUESTS_REFUSED, unit=MetricUnit.Count, value=1)
    return _error_response(status, error.code, error.message, headers)


# Lambda passes its own context object; Powertools types it as LambdaContext.
LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def make_handler(get_dependencies: Callable[[], ApiDependencies]) -> LambdaHandler:
    """A Lambda handler that serves the routes with these dependencies (built on its first request)."""

    # Traces get the invocation and its AWS calls, never an answer: lookups answer with addresses and
    # subjects, which stay out of traces as out of logs.
    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics(capture_cold_start_metric=True)
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        app.append_context(dependencies=get_dependencies())  # type: ignore[no-untyped-call]
        return app.resolve(event, context)

    return handler  # type: ignore[no-any-return]


lambda_handler = make_handler(api_dependencies)


# What the imports allocated lives as long as the function: out of the collector's way from now on.
gc.freeze()
gc.enable()
