"""Which stored events are published, and what their EventBridge entries look like. No AWS here."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from cmc_webhooks.contract import PUBLISHABLE_KINDS, PublishableKind
from cmc_webhooks.logic.lookup import classification_of
from cmc_webhooks.models.events import EmailEventDetail
from cmc_webhooks.models.store import StoredItem


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
