"""A message's history, as the lookup API and the CLI show it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Protocol

from cmc_webhooks import contract
from cmc_webhooks.errors import MessageNotFound
from cmc_webhooks.logic.identity import normalize_address, normalize_message_id
from cmc_webhooks.logic.status import current_statuses
from cmc_webhooks.logic.suppression import Decision, Suppression, SuppressionPolicy, suppression
from cmc_webhooks.models.api import EventView, MessageHistory, RecipientHistory, RecipientStatus
from cmc_webhooks.models.store import StoredItem, classification_of, fits_partition_key
from cmc_webhooks.models.suppression import DecisionView, SuppressionState


class EventReader(Protocol):
    def message_events(self, message_id: str) -> list[StoredItem]:
        """The events of one message (normalized id), oldest first."""

    def recipient_events(self, recipient_key: str, *, limit: int) -> list[StoredItem]:
        """The newest `limit` events of one recipient (normalized address), newest first."""


class DecisionReader(Protocol):
    def decisions(self, address: str) -> list[Decision]:
        """An address's (normalized) manual suppress and lift decisions, oldest first."""


def lookup_message(store: EventReader, message_id: str) -> MessageHistory:
    """With or without <>: the key is the normalized id."""
    normalized = normalize_message_id(message_id)
    if not fits_partition_key(normalized):  # no such item can exist: don't ask DynamoDB
        raise MessageNotFound(f"no events for message {normalized[:100]!r}")
    return message_history(normalized, store.message_events(normalized))


def lookup_recipient(
    store: EventReader,
    address: str,
    policy: SuppressionPolicy,
    decisions: DecisionReader | None = None,
    *,
    recipient_index: str = contract.RECIPIENT_INDEX_ALL,
) -> RecipientHistory:
    """`decisions`: the manual suppress and lift decisions, applied with the events (None: none).
    `recipient_index`: what the index holds (contract.RECIPIENT_INDEX_MODES), so what the events show."""
    key = normalize_address(address)
    events = (
        store.recipient_events(key, limit=contract.RECIPIENT_EVENTS_LIMIT) if fits_partition_key(key) else []
    )
    made = (
        decisions.decisions(key)
        if decisions is not None and fits_partition_key(contract.SUPPRESSION_PARTITION_PREFIX + key)
        else []
    )
    history = recipient_history(key, events, policy, made)
    if recipient_index == contract.RECIPIENT_INDEX_ALL:
        return history
    # The sparse index projects what the verdict reads: the rest is null here (read it with the message).
    unprojected = dict.fromkeys(UNPROJECTED_FIELDS)
    history.events = [event.model_copy(update=unprojected) for event in history.events]
    return history


# The event fields GET /recipients leaves null when the index projects contract.SUPPRESSION_INDEX_ATTRIBUTES.
UNPROJECTED_FIELDS = (
    "sender",
    "return_path",
    "subject",
    "reason",
    "api_data",
    "data_version",
    "extra_fields",
    "raw",
)


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


def recipient_history(
    address: str,
    events_newest_first: Sequence[StoredItem],
    policy: SuppressionPolicy,
    decisions: Sequence[Decision] = (),
) -> RecipientHistory:
    """An address never seen is simply not suppressed: callers ask "may I mail this address?"."""
    verdict = suppression(reversed(events_newest_first), policy, decisions)
    return RecipientHistory(
        address=address,
        suppressed=verdict.suppressed,
        suppression_reason=verdict.reason,
        suppressed_since=verdict.since,
        state=state_view(address, verdict),
        decisions=[decision_view(decision) for decision in reversed(decisions)],
        events=[event_view(event) for event in events_newest_first],
    )


def state_view(address: str, state: Suppression) -> SuppressionState:
    return SuppressionState(
        address=address,
        suppressed=state.suppressed,
        reason=state.reason,
        since=state.since,
        cause_event_id=state.cause_event_id,
        decision_id=state.decision_id,
        actor=state.actor,
        cmc_block_list=state.cmc_block_list,
        lifted_at=state.lifted_at,
    )


def decision_view(decision: Decision) -> DecisionView:
    return DecisionView(
        decision_id=decision.decision_id,
        action=decision.action,
        decided_at=decision.decided_at,
        actor=decision.actor,
        reason=decision.reason,
        note=decision.note,
    )


def event_view(item: StoredItem) -> EventView:
    return EventView(
        event_id=item["event_id"],
        message_id=item["message_id"],
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
        classification=classification_of(item),
        extra_fields=json.loads(item["extra"]) if "extra" in item else None,
        raw=json.loads(item["raw"]) if "raw" in item else None,
    )
