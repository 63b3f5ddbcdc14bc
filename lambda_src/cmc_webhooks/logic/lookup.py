"""A message's history, as the lookup API and the CLI show it."""

from __future__ import annotations

import json
from collections.abc import Sequence

from cmc_webhooks.errors import MessageNotFound
from cmc_webhooks.logic.identity import normalize_message_id
from cmc_webhooks.logic.status import current_statuses
from cmc_webhooks.models.api import EventView, MessageHistory, RecipientStatus
from cmc_webhooks.models.store import StoredItem


def message_history(message_id: str, events: Sequence[StoredItem]) -> MessageHistory:
    """`events` as the store returns them: one message, oldest first."""
    if not events:
        raise MessageNotFound(f"no events for message {normalize_message_id(message_id)!r}")
    recipients = [
        RecipientStatus(address=event["recipient"], status=event["status"], updated_at=event["occurred_at"])
        for event in current_statuses(events).values()
    ]
    return MessageHistory(
        message_id=events[0]["message_id"],
        recipients=sorted(recipients, key=lambda recipient: recipient.address),
        events=[event_view(event) for event in events],
    )


def event_view(item: StoredItem) -> EventView:
    return EventView(
        event_id=item["event_id"],
        event_type=item["event_type"],
        status=item.get("status"),
        occurred_at=item.get("occurred_at"),
        received_at=item["received_at"],
        recipient=item.get("recipient"),
        sender=item.get("sender", ""),
        return_path=item.get("return_path", ""),
        subject=item.get("subject", ""),
        reason=item.get("reason", ""),
        api_data=item.get("api_data", ""),
        server_composition=item.get("server_composition", ""),
        bounce_code=item.get("bounce_code"),
        data_version=item.get("data_version"),
        extra_fields=json.loads(item["extra"]) if "extra" in item else None,
        raw=json.loads(item["raw"]) if "raw" in item else None,
    )
