"""The suppression routes: suppress and lift an address by hand, list the suppressed addresses.

IAM-authorized like the lookups: the actor of a decision is the caller's IAM principal, from the request
context API Gateway fills in. Without one the route refuses (403): deployed, IAM authorization always
provides it; `make local` fills in a local principal.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TypeVar, cast
from urllib.parse import unquote

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from pydantic import BaseModel, ValidationError

from cmc_webhooks import contract
from cmc_webhooks.errors import Forbidden, InvalidRequest
from cmc_webhooks.logic.lookup import page_limit
from cmc_webhooks.logic.suppressions import DecisionService, list_suppressed
from cmc_webhooks.models.suppression import LiftRequest, SuppressRequest
from cmc_webhooks.wiring import ApiDependencies

router = Router()  # type: ignore[no-untyped-call]
Body = TypeVar("Body", bound=BaseModel)
ADDRESS_ROUTE = contract.SUPPRESSION_PATH.replace("{address}", "<address>")


def _service() -> DecisionService:
    deps: ApiDependencies = router.context["dependencies"]
    return DecisionService(
        events=deps.store, store=deps.suppressions, policy=deps.settings.suppression_policy
    )


def _actor() -> str:
    event = cast(APIGatewayProxyEvent, router.current_event)  # the REST API's proxy event
    actor: str | None = event.request_context.identity.user_arn
    if not actor:
        raise Forbidden("no IAM principal in the request: this route needs IAM (SigV4) authorization")
    return actor


def _body(model: type[Body], *, optional: bool) -> Body:
    text = router.current_event.decoded_body
    if not text or not text.strip():
        if optional:
            return model()
        raise InvalidRequest("body: a JSON object is required")
    try:
        value: Any = json.loads(text)
    except ValueError as exc:
        raise InvalidRequest(f"body: not JSON ({exc.args[0]})") from exc
    if not isinstance(value, dict):
        raise InvalidRequest("body: a JSON object is required")
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)
        ]
        raise InvalidRequest("; ".join(problems)) from exc


@router.put(ADDRESS_ROUTE, summary="Suppress an address by hand (JSON body: reason, optional note)")
def suppress(address: str) -> dict[str, Any]:
    request = _body(SuppressRequest, optional=False)
    answer = _service().suppress(unquote(address), request, actor=_actor(), now=datetime.now(UTC))
    return answer.model_dump()


@router.delete(
    ADDRESS_ROUTE, summary="Lift an address's suppression, whatever caused it (optional body: note)"
)
def lift(address: str) -> dict[str, Any]:
    request = _body(LiftRequest, optional=True)
    answer = _service().lift(unquote(address), request, actor=_actor(), now=datetime.now(UTC))
    return answer.model_dump()


@router.get(contract.SUPPRESSIONS_PATH, summary="The suppressed addresses, by address, a page at a time")
def suppressions() -> dict[str, Any]:
    event = router.current_event
    limit = page_limit(event.get_query_string_value("limit"))
    deps: ApiDependencies = router.context["dependencies"]
    page = list_suppressed(deps.suppressions, limit=limit, cursor=event.get_query_string_value("cursor"))
    return page.model_dump()
