"""Subscriber examples: parse the events this receiver publishes with Powertools Parser.

Copy `EmailEventDetail` (lambda_src/cmc_webhooks/models/events.py) or depend on it; it is
the versioned contract of the event detail (docs/events.md).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import envelopes, parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from cmc_webhooks.models.events import EmailEventDetail

logger = Logger(service="bounce-subscriber")


class EmailEvent(EventBridgeModel):
    """The whole EventBridge event, as an SQS target receives it in each message body."""

    detail: EmailEventDetail  # type: ignore[assignment]


def suppress(detail: EmailEventDetail) -> None:
    """Your code: e.g. stop mailing `detail.recipient`. Deduplicate on `detail.event_id`."""
    logger.info("would suppress", extra={"event_id": detail.event_id, "bounce_code": detail.bounce_code})


def lambda_target_handler(event: dict[str, Any], context: LambdaContext) -> None:
    """A Lambda function as the rule's target: the event is the EventBridge envelope."""
    suppress(parse(event=event, model=EmailEventDetail, envelope=envelopes.EventBridgeEnvelope))


def sqs_target_handler(event: dict[str, Any], context: LambdaContext) -> None:
    """A Lambda function reading the rule's SQS queue: each message body is one EventBridge event."""
    for email_event in parse(event=event, model=EmailEvent, envelope=envelopes.SqsEnvelope):
        if email_event is not None:
            suppress(email_event.detail)
