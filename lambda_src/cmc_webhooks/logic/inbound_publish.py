"""`Email Received`: the EventBridge entries of newly stored inbound mail. No AWS here.

Pointers only, never bodies: an EventBridge event holds at most 256 KB, a mail may hold megabytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from cmc_webhooks import contract
from cmc_webhooks.logic.publish import EventPublisher, Published
from cmc_webhooks.models.inbound import (
    AttachmentPointer,
    BodyPointers,
    EmailReceivedDetail,
    InboundItem,
    ObjectPointer,
)
from cmc_webhooks.settings import PublisherSettings


def email_received_detail(item: InboundItem) -> EmailReceivedDetail:
    bucket = item["bucket"]

    def pointer(key: str | None) -> ObjectPointer | None:
        return ObjectPointer(bucket=bucket, key=key) if key else None

    return EmailReceivedDetail(
        inbound_id=item["inbound_id"],
        message_id=item.get("header_message_id"),
        filter=item.get("filter"),
        server_composition=item.get("server_composition"),
        envelope_from=item.get("envelope_from"),
        envelope_to=item.get("envelope_to"),
        from_=item.get("mail_from"),
        to=item.get("mail_to"),
        subject=item.get("subject"),
        date=item.get("date"),
        received_at=item["received_at"],
        in_reply_to=item.get("in_reply_to"),
        references=json.loads(item.get("references", "[]")),
        kind=item["mail_kind"],
        related_message_id=item.get("related_message_id"),
        headers=ObjectPointer(bucket=bucket, key=item["headers_key"]),
        body=BodyPointers(text=pointer(item.get("text_key")), html=pointer(item.get("html_key"))),
        attachments=[
            AttachmentPointer(bucket=bucket, **attachment) for attachment in json.loads(item["attachments"])
        ],
    )


def email_received_entry(item: InboundItem, *, bus_name: str, source: str) -> dict[str, Any]:
    return {
        "EventBusName": bus_name,
        "Source": source,
        "DetailType": contract.INBOUND_DETAIL_TYPE,
        "Detail": email_received_detail(item).model_dump_json(by_alias=True),
    }


def publish_inbound(
    items: Iterable[tuple[str, InboundItem]], *, settings: PublisherSettings, publisher: EventPublisher
) -> Published:
    """One `Email Received` per newly stored mail, each given with the caller's id (its stream record's
    sequence number); the ids of those that failed."""
    pairs = list(items)
    entries = [
        email_received_entry(item, bus_name=settings.event_bus_name, source=settings.event_source)
        for _, item in pairs
    ]
    failed = publisher.publish(entries) if entries else []
    return Published(entries=len(entries), failed=[pairs[index][0] for index in failed])
