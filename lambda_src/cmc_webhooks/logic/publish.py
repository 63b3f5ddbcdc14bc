"""Which stored events are published, and what their EventBridge entries look like. No AWS here."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cmc_webhooks.contract import PUBLISHABLE_KINDS, PublishableKind
from cmc_webhooks.models.events import EmailEventDetail
from cmc_webhooks.models.store import StoredItem, classification_of
from cmc_webhooks.settings import PublisherSettings


class EventPublisher(Protocol):
    def publish(self, entries: Sequence[dict[str, Any]]) -> list[int]:
        """Publish every entry; the indexes of those that still failed."""


@dataclass(frozen=True)
class Published:
    entries: int
    failed: list[str]  # ids of the stored items whose events were not published


def publish_items(
    items: Iterable[tuple[str, StoredItem]], *, settings: PublisherSettings, publisher: EventPublisher
) -> Published:
    """Publish the events of newly stored items, each given with an id of the caller's (its stream
    record's sequence number); the ids of those that failed."""
    entries: list[dict[str, Any]] = []
    ids: list[str] = []
    for item_id, item in items:
        kind = published_kind(item, settings.published_kinds)
        if kind is None:
            continue  # the mapping's filter lets only published kinds through
        entries.append(
            put_events_entry(item, kind, bus_name=settings.event_bus_name, source=settings.event_source)
        )
        ids.append(item_id)
    failed = publisher.publish(entries) if entries else []
    return Published(entries=len(entries), failed=[ids[index] for index in failed])


def published_kind(item: StoredItem, kind_names: Iterable[str]) -> PublishableKind | None:
    if item.get("kind") != "event":
        return None
    for name in kind_names:
        kind = PUBLISHABLE_KINDS[name]
        if item.get("event_type") == kind.event_type and kind.status in (None, item.get("status")):
            return kind
    return None


def event_detail(item: StoredItem) -> EmailEventDetail:
    return EmailEventDetail(
        event_id=item["event_id"],
        event_type=item["event_type"],
        message_id=item["message_id"],
        message_id_raw=item.get("message_id_raw", ""),
        recipient=item.get("recipient"),
        sender=item.get("sender"),
        return_path=item.get("return_path"),
        subject=item.get("subject"),
        api_data=item.get("api_data"),
        status=item.get("status"),
        reason=item.get("reason"),
        bounce_code=item.get("bounce_code"),
        occurred_at=item.get("occurred_at"),
        received_at=item["received_at"],
        server_composition=item.get("server_composition", ""),
        classification=classification_of(item),
        raw=json.loads(item["raw"]) if "raw" in item else None,
    )


def put_events_entry(
    item: StoredItem, kind: PublishableKind, *, bus_name: str, source: str
) -> dict[str, Any]:
    return {
        "EventBusName": bus_name,
        "Source": source,
        "DetailType": kind.detail_type,
        "Detail": event_detail(item).model_dump_json(exclude_none=True),
    }
