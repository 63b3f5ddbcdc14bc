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
    inbound_metadata,
)
from cmc_webhooks.settings import PublisherSettings


def email_received_detail(item: InboundItem) -> EmailReceivedDetail:
    bucket = item["bucket"]

    def pointer(key: str | None) -> ObjectPointer | None:
        return ObjectPointer(bucket=bucket, key=key) if key else None

    return EmailReceivedDetail(
        **inbound_metadata(item),
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
