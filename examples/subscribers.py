"""Subscriber examples: parse the events this receiver publishes with Powertools Parser.

Copy `EmailEventDetail` (lambda_src/cmc_webhooks/models/events.py) or depend on it; it is
the versioned contract of the event detail (docs/events.md).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import envelopes, event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from cmc_webhooks.models.events import EmailEventDetail

logger = Logger(service="bounce-subscriber")


class EmailEvent(EventBridgeModel):
    """The whole EventBridge event, as an SQS target receives it in each message body."""

    detail: EmailEventDetail


def suppress(detail: EmailEventDetail) -> None:
    """Your code: e.g. stop mailing `detail.recipient`. Deduplicate on `detail.event_id`."""
    logger.info("would suppress", extra={"event_id": detail.event_id, "bounce_code": detail.bounce_code})


@event_parser(model=EmailEventDetail, envelope=envelopes.EventBridgeEnvelope)
def lambda_target_handler(event: EmailEventDetail, context: LambdaContext) -> None:
    """A Lambda function as the rule's target: the event is the EventBridge envelope."""
    suppress(event)


@event_parser(model=EmailEvent, envelope=envelopes.SqsEnvelope)
def sqs_target_handler(event: list[EmailEvent], context: LambdaContext) -> None:
    """A Lambda function reading the rule's SQS queue: each message body is one EventBridge event."""
    for email_event in event:
        suppress(email_event.detail)
