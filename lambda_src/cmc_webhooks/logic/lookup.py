"""A message's history, a recipient's and the messages carrying an apiData, as the lookup API and the
CLI show them: in pages.

A page holds at most `limit` events and ends before its answer would pass PAGE_MAX_BYTES. A message's
events come by recipient, then time (the sort key), so a page holds each recipient's events together:
each recipient is listed on the page where its events begin, with the status all its events decide (the
rest of a recipient cut at the page's end is read, status attributes only). An address's suppression
comes from all its events: read once for its first page, carried on by the cursor.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cmc_webhooks import contract
from cmc_webhooks.errors import InvalidQuery, MessageNotFound
from cmc_webhooks.logic import cursor as cursors
from cmc_webhooks.logic.identity import normalize_address, normalize_message_id
from cmc_webhooks.logic.status import current_statuses
from cmc_webhooks.logic.suppression import Decision, Suppression, SuppressionPolicy, suppression
from cmc_webhooks.models.api import (
    ApiDataPage,
    EventView,
    MessageHistory,
    MessageStatuses,
    RecipientHistory,
    RecipientStatus,
)
from cmc_webhooks.models.store import (
    StoredItem,
    api_data_key,
    classification_of,
    fits_partition_key,
    recipient_group,
)
from cmc_webhooks.models.suppression import DecisionView, SuppressionState

# A status entry's JSON beyond its address and time: what a page budgets for one.
STATUS_OVERHEAD_BYTES = 120


@dataclass(frozen=True)
class ItemPage:
    items: list[StoredItem]
    more: bool  # the query holds items after the last one read


class EventReader(Protocol):
    def message_page(self, message_id: str, *, after: str | None, limit: int) -> ItemPage:
        """Up to `limit` events of one message (normalized id) in sort key order, after sort key `after`."""

    def message_group_rest(self, message_id: str, after: str) -> list[StoredItem]:
        """The events after sort key `after` of the recipient whose event has that key (status
        attributes)."""

    def recipient_page(self, recipient_key: str, *, after: str | None, limit: int) -> ItemPage:
        """Up to `limit` events of one recipient (normalized address), newest first, before sort key
        `after`."""

    def recipient_all(self, recipient_key: str) -> list[StoredItem]:
        """Every event of one recipient, oldest first (the attributes suppression reads)."""

    def api_data_page(self, key: str, *, after: str | None, limit: int) -> ItemPage:
        """Up to `limit` index entries of one api_data_key, by message, recipient and time, after
        api_data_sk `after`."""

    def api_data_group_rest(self, key: str, after: str) -> list[StoredItem]:
        """The index entries after api_data_sk `after` of its (message, recipient)."""


class DecisionReader(Protocol):
    def decisions(self, address: str) -> list[Decision]:
        """An address's (normalized) manual suppress and lift decisions, oldest first."""


def page_limit(text: str | None) -> int:
    """The `limit` query parameter: PAGE_LIMIT_DEFAULT when absent."""
    if text is None:
        return contract.PAGE_LIMIT_DEFAULT
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= contract.PAGE_LIMIT_MAX:
        raise InvalidQuery(f"limit: a whole number from 1 to {contract.PAGE_LIMIT_MAX}")
    return int(text)


def _cut(views: Sequence[EventView], extra_bytes: Sequence[int]) -> int:
    """How many of a page's events fit in its byte budget (at least one)."""
    size = 0
    for count, (view, extra) in enumerate(zip(views, extra_bytes, strict=True)):
        size += len(view.model_dump_json().encode()) + extra
        if count and size > contract.PAGE_MAX_BYTES:
            return count
    return len(views)


def _status_bytes(item: StoredItem) -> int:
    return len(item.get("recipient", "").encode("utf-8", "surrogatepass")) + STATUS_OVERHEAD_BYTES


def lookup_message(
    store: EventReader,
    message_id: str,
    *,
    limit: int = contract.PAGE_LIMIT_DEFAULT,
    cursor: str | None = None,
) -> MessageHistory:
    """With or without <>: the key is the normalized id."""
    normalized = normalize_message_id(message_id)
    position = cursors.resume(cursor, "message", normalized, 1)
    if not fits_partition_key(normalized):  # no such item can exist: don't ask DynamoDB
        raise MessageNotFound(f"no events for message {normalized[:100]!r}")
    after = position[0] if position else None
    read = store.message_page(normalized, after=after, limit=limit + 1)
    if not read.items and after is None:
        raise MessageNotFound(f"no events for message {normalized!r}")
    items = read.items[:limit]
    views = [event_view(item) for item in items]
    kept = _cut(views, [_status_bytes(item) for item in items])
    items, views = items[:kept], views[:kept]
    more = len(read.items) > kept or read.more
    status_events = list(items)
    if more and items:
        last = items[-1]
        following = read.items[kept] if len(read.items) > kept else None
        if following is None or recipient_group(following["sk"]) == recipient_group(last["sk"]):
            status_events += store.message_group_rest(normalized, last["sk"])
    continued = recipient_group(after) if after else None
    return MessageHistory(
        message_id=items[0]["message_id"] if items else normalized,
        recipients=_statuses(status_events, skip=continued, key="sk"),
        events=views,
        next_cursor=cursors.issue("message", normalized, [items[-1]["sk"]]) if more and items else None,
    )


def _statuses(events: Sequence[StoredItem], *, skip: str | None, key: str) -> list[RecipientStatus]:
    """The current status of each recipient of `events` but the one whose group `skip` is (listed on an
    earlier page), in the order of the events."""
    decided = current_statuses(event for event in events if recipient_group(event[key]) != skip)  # type: ignore[literal-required]
    return [
        RecipientStatus(address=event["recipient"], status=event["status"], updated_at=event["occurred_at"])
        for event in decided.values()
    ]


def message_history(message_id: str, events: Sequence[StoredItem]) -> MessageHistory:
    """`events`: one message's, all of them, as the store orders them."""
    if not events:
        raise MessageNotFound(f"no events for message {normalize_message_id(message_id)!r}")
    return MessageHistory(
        message_id=events[0]["message_id"],
        recipients=_statuses(events, skip=None, key="sk"),
        events=[event_view(event) for event in events],
    )


def lookup_recipient(
    store: EventReader,
    address: str,
    policy: SuppressionPolicy,
    decisions: DecisionReader | None = None,
    *,
    recipient_index: str = contract.RECIPIENT_INDEX_ALL,
    limit: int = contract.PAGE_LIMIT_DEFAULT,
    cursor: str | None = None,
) -> RecipientHistory:
    """`decisions`: the manual suppress and lift decisions, applied with the events (None: none).
    `recipient_index`: what the index holds (contract.RECIPIENT_INDEX_MODES), so what the events show."""
    key = normalize_address(address)
    # The position, and the verdict the first page read from all the address's events.
    position = cursors.resume(cursor, "recipient", key, 4)
    if not fits_partition_key(key):
        return recipient_history(key, [], policy)
    # Decisions apply with the events; read with them, for the first page (the verdict is carried on).
    made = (
        decisions.decisions(key)
        if decisions is not None
        and position is None
        and fits_partition_key(contract.SUPPRESSION_PARTITION_PREFIX + key)
        else []
    )
    read = store.recipient_page(key, after=position[0] if position else None, limit=limit + 1)
    items = read.items[:limit]
    views = [event_view(item) for item in items]
    kept = _cut(views, [0] * len(views))
    items = items[:kept]
    more = len(read.items) > kept or read.more
    if position is not None:
        verdict = Suppression(position[1] == "1", position[2] or None, position[3] or None)
    elif more:  # the verdict needs every event: read once, for the first page, and carried on
        verdict = suppression(store.recipient_all(key), policy, made)
    else:
        verdict = suppression(reversed(items), policy, made)
    result = recipient_history(key, items, policy, made, verdict=verdict)
    if recipient_index != contract.RECIPIENT_INDEX_ALL:
        # The sparse index projects what the verdict reads: the rest is null here (read it with the message).
        unprojected = dict.fromkeys(UNPROJECTED_FIELDS)
        result.events = [event.model_copy(update=unprojected) for event in result.events]
    if more and items:
        carried = ["1" if verdict.suppressed else "0", verdict.reason or "", verdict.since or ""]
        result.next_cursor = cursors.issue("recipient", key, [items[-1]["sk"], *carried])
    return result


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


def recipient_history(
    address: str,
    events_newest_first: Sequence[StoredItem],
    policy: SuppressionPolicy,
    decisions: Sequence[Decision] = (),
    *,
    verdict: Suppression | None = None,
) -> RecipientHistory:
    """An address never seen is simply not suppressed: callers ask "may I mail this address?".
    `verdict`: from all the address's events (and `decisions`) when `events_newest_first` is one page."""
    if verdict is None:
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


def lookup_api_data(
    store: EventReader, api_data: str, *, limit: int = contract.PAGE_LIMIT_DEFAULT, cursor: str | None = None
) -> ApiDataPage:
    """The messages whose events carry `api_data`, each with its recipients' current status (from the
    events that carry it). A message whose recipients span pages is listed on each, every recipient once."""
    if not api_data:
        raise InvalidQuery("api_data: required, the value CMC sent as apiData (X-Api-Data)")
    key = api_data_key(api_data)
    position = cursors.resume(cursor, "api_data", key, 1)
    after = position[0] if position else None
    read = store.api_data_page(key, after=after, limit=limit + 1)
    items = read.items[:limit]
    kept = limit
    size = 0
    for count, item in enumerate(items):
        size += _status_bytes(item) + len(item["message_id"].encode("utf-8", "surrogatepass"))
        if count and size > contract.PAGE_MAX_BYTES:
            kept = count
            break
    items = items[:kept]
    more = len(read.items) > len(items) or read.more
    status_events = list(items)
    if more and items:
        last = items[-1]
        following = read.items[len(items)] if len(read.items) > len(items) else None
        if following is None or recipient_group(following["api_data_sk"]) == recipient_group(
            last["api_data_sk"]
        ):
            status_events += store.api_data_group_rest(key, last["api_data_sk"])
    continued = recipient_group(after) if after else None
    messages: list[MessageStatuses] = []
    for message_id, group in _by_message(status_events):
        recipients = _statuses(group, skip=continued, key="api_data_sk")
        if recipients:
            if messages and messages[-1].message_id == message_id:
                messages[-1].recipients.extend(recipients)
            else:
                messages.append(MessageStatuses(message_id=message_id, recipients=recipients))
    return ApiDataPage(
        api_data=api_data,
        messages=messages,
        next_cursor=cursors.issue("api_data", key, [items[-1]["api_data_sk"]]) if more and items else None,
    )


def _by_message(events: Sequence[StoredItem]) -> list[tuple[str, list[StoredItem]]]:
    runs: list[tuple[str, list[StoredItem]]] = []
    for event in events:
        if runs and runs[-1][0] == event["message_id"]:
            runs[-1][1].append(event)
        else:
            runs.append((event["message_id"], [event]))
    return runs


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
