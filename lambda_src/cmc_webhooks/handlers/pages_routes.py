"""GET /messages?api_data=VALUE: the messages carrying the sender's own id, in pages; GET
/messages?message_id=ID: one message, as GET /messages/{message_id} answers; and the paging query
parameters every lookup takes (`limit`, `cursor`)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from cmc_webhooks import contract
from cmc_webhooks.errors import InvalidQuery
from cmc_webhooks.logic.lookup import lookup_api_data, lookup_message, page_limit

router = Router()  # type: ignore[no-untyped-call]
metrics = Metrics(namespace=contract.METRICS_NAMESPACE, service=contract.SERVICE_NAME)


def page_arguments(event: BaseProxyEvent) -> dict[str, Any]:
    """`limit` and `cursor` of a lookup, as the logic takes them (a bad limit is a 400)."""
    return {
        "limit": page_limit(event.get_query_string_value("limit")),
        "cursor": event.get_query_string_value("cursor"),
    }


@router.get(
    contract.MESSAGES_BY_API_DATA_PATH,
    summary="The messages whose events carry an apiData (X-Api-Data), each recipient's current status; "
    "or, with message_id, one message's events (for ids a path can't carry)",
)
def get_messages() -> dict[str, Any]:
    event = router.current_event
    api_data = event.get_query_string_value("api_data")
    message_id = event.get_query_string_value("message_id")
    if (api_data is None) == (message_id is None):
        raise InvalidQuery("api_data or message_id: exactly one of them is required")
    if message_id is not None:
        return message_page(message_id)
    page = lookup_api_data(router.context["dependencies"].store, api_data or "", **page_arguments(event))
    metrics.add_metric(name=contract.Metric.API_DATA_LOOKUPS, unit=MetricUnit.Count, value=1)
    return page.model_dump()


def message_page(message_id: str) -> dict[str, Any]:
    """A page of one message's events (its id decoded), whichever route asked."""
    history = lookup_message(
        router.context["dependencies"].store, message_id, **page_arguments(router.current_event)
    )
    metrics.add_metric(name=contract.Metric.MESSAGE_LOOKUPS, unit=MetricUnit.Count, value=1)
    return history.model_dump()
