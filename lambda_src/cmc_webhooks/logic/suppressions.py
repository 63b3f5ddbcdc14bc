"""Suppression as a service: manual decisions, the current state of each address, the list of the
suppressed ones, and announcing each change once. No AWS here (docs/suppressions.md).

The webhook path does not change: it stores events, at 0 reads. The suppression tracker, a consumer of
the table's stream, recomputes the state of each address a new event or decision may change, and writes
the address's state item only when the state differs, conditionally on the version it read. The write
that turns an address suppressed or unsuppressed marks itself (contract.STATE_CHANGE_ATTRIBUTE); the
tracker announces that write's own stream record. A cause delivered twice or out of order computes the
same state from the whole history and writes nothing, so a change is announced once.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from cmc_webhooks import contract
from cmc_webhooks.errors import InvalidQuery, InvalidRequest
from cmc_webhooks.logic.identity import normalize_address
from cmc_webhooks.logic.lookup import decision_view, state_view
from cmc_webhooks.logic.publish import EventPublisher
from cmc_webhooks.logic.suppression import (
    NOT_SUPPRESSED,
    Decision,
    Suppression,
    SuppressionPolicy,
    suppression,
)
from cmc_webhooks.models.store import StoredItem, fits_partition_key
from cmc_webhooks.models.suppression import (
    DecisionAnswer,
    LiftRequest,
    RecipientSuppressionDetail,
    SuppressedAddress,
    SuppressionPage,
    SuppressRequest,
)

# RFC 5321: a path holds at most 256 octets, an address at most 254 characters.
ADDRESS_MAX_CHARS = 254


@dataclass(frozen=True)
class StateRecord:
    """An address's state item: its state, how many times it was written, how many changes it saw."""

    address: str  # normalized
    state: Suppression
    version: int
    changes: int  # how many times it turned suppressed or unsuppressed
    state_change: str | None = None  # set by the write that turned it (contract.STATE_CHANGES)


class AddressEvents(Protocol):
    def recipient_all(self, recipient_key: str) -> list[StoredItem]:
        """Every event of one recipient (normalized address), oldest first."""


class SuppressionStore(Protocol):
    def decisions(self, address: str) -> list[Decision]:
        """An address's (normalized) manual decisions, oldest first, strongly consistent."""

    def add_decision(self, address: str, decision: Decision) -> None:
        """Store a decision as an item of its own; never overwrites one."""

    def states(self, addresses: Iterable[str]) -> dict[str, StateRecord]:
        """The state items of these addresses that exist, strongly consistent."""

    def put_state(self, record: StateRecord, *, expected_version: int | None) -> bool:
        """Write a state item if its stored version is still `expected_version` (None: none stored);
        False if another writer came first."""

    def suppressed_page(self, limit: int, after: str | None) -> tuple[list[StateRecord], str | None]:
        """Up to `limit` state items of suppressed addresses after the address `after`, by address; the
        last address read if there may be more."""


# --- addresses, decisions and the view ----------------------------------------------------------


def valid_address(address: str) -> str:
    """The normalized address, or a 400 naming what is wrong with it."""
    key = normalize_address(address)
    local, at, domain = key.rpartition("@")
    if not (at and local and domain):
        raise InvalidRequest("address: not an email address (local-part@domain)")
    if len(key) > ADDRESS_MAX_CHARS:
        raise InvalidRequest(f"address: longer than {ADDRESS_MAX_CHARS} characters")
    if any(char.isspace() or not char.isprintable() or char in "<>" for char in key):
        raise InvalidRequest("address: holds spaces, control characters or angle brackets")
    return key


def _in_key_order(items: Iterable[StoredItem]) -> list[StoredItem]:
    """Events oldest first, each once: their sort key starts with their UTC time."""
    unique = {(item["message_id"], item["sk"]): item for item in items}
    return [unique[key] for key in sorted(unique, key=lambda key: (key[1], key[0]))]


def newest_events(events: AddressEvents, address: str) -> list[StoredItem]:
    """What the view reads of an address's events (the recipient index, every event)."""
    return events.recipient_all(address)


def compute_state(
    stored: Iterable[StoredItem],
    decisions: Sequence[Decision],
    policy: SuppressionPolicy,
    *,
    also: Iterable[StoredItem] = (),
    gone: Iterable[StoredItem] = (),
) -> Suppression:
    """The view of one address: its stored events (with `also`, events just stored that an index may
    not show yet, and without `gone`, events just deleted it may still show) and its decisions."""
    deleted = {(item["message_id"], item["sk"]) for item in gone}
    kept = [item for item in stored if (item["message_id"], item["sk"]) not in deleted]
    return suppression(_in_key_order([*kept, *also]), policy, decisions)


@dataclass(frozen=True)
class DecisionService:
    events: AddressEvents
    store: SuppressionStore
    policy: SuppressionPolicy

    def suppress(
        self, address: str, request: SuppressRequest, *, actor: str, now: datetime
    ) -> DecisionAnswer:
        key = valid_address(address)
        stored, decisions = newest_events(self.events, key), self.store.decisions(key)
        before = compute_state(stored, decisions, self.policy)
        decision = self._decide(key, "suppress", actor, now, reason=request.reason, note=request.note)
        after = compute_state(stored, [*decisions, decision], self.policy)
        message = "suppressed" if not before.suppressed else f"was already suppressed ({before.reason})"
        return DecisionAnswer(
            changed=not before.suppressed,
            message=message,
            decision=decision_view(decision),
            state=state_view(key, after),
        )

    def lift(self, address: str, request: LiftRequest, *, actor: str, now: datetime) -> DecisionAnswer:
        key = valid_address(address)
        stored, decisions = newest_events(self.events, key), self.store.decisions(key)
        before = compute_state(stored, decisions, self.policy)
        if not before.suppressed:  # idempotent: nothing to lift, nothing stored
            return DecisionAnswer(
                changed=False,
                message="not suppressed: nothing to lift",
                decision=None,
                state=state_view(key, before),
            )
        decision = self._decide(key, "lift", actor, now, note=request.note)
        after = compute_state(stored, [*decisions, decision], self.policy)
        message = "lifted"
        if before.cmc_block_list:
            message += (
                f"; CMC itself still refuses this address ({before.reason}): remove it in CMC's console too"
            )
        return DecisionAnswer(
            changed=True, message=message, decision=decision_view(decision), state=state_view(key, after)
        )

    def _decide(
        self,
        key: str,
        action: Literal["suppress", "lift"],
        actor: str,
        now: datetime,
        *,
        reason: str | None = None,
        note: str | None,
    ) -> Decision:
        decision = Decision(
            decision_id=uuid.uuid4().hex,
            action=action,
            decided_at=now.isoformat(timespec="microseconds"),
            actor=actor,
            reason=reason,
            note=note or None,
        )
        self.store.add_decision(key, decision)
        return decision


# --- the list ------------------------------------------------------------------------------------


def encode_cursor(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode().rstrip("=")


BAD_CURSOR = "cursor: not one this API gave (pass next_cursor as it was answered)"


def decode_cursor(cursor: str) -> str:
    """The address a cursor names (as stored: any recipient key, not only a valid address); a 400 for
    anything DynamoDB would not take as a key."""
    try:
        after = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["after"]
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise InvalidQuery(BAD_CURSOR) from exc
    if not (
        isinstance(after, str) and after and fits_partition_key(contract.SUPPRESSION_PARTITION_PREFIX + after)
    ):
        raise InvalidQuery(BAD_CURSOR)
    return after


def list_suppressed(store: SuppressionStore, *, limit: int, cursor: str | None) -> SuppressionPage:
    records, last = store.suppressed_page(limit, decode_cursor(cursor) if cursor else None)
    return SuppressionPage(
        suppressions=[suppressed_address(record) for record in records],
        next_cursor=encode_cursor(last) if last else None,
    )


def suppressed_address(record: StateRecord) -> SuppressedAddress:
    state = record.state
    return SuppressedAddress(
        address=record.address,
        reason=state.reason or "",
        since=state.since or "",
        cause_event_id=state.cause_event_id,
        decision_id=state.decision_id,
        actor=state.actor,
        cmc_block_list=state.cmc_block_list,
    )


# --- the tracker ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expired:
    """An event DynamoDB's TTL deleted (the stream's old image): its address is recomputed without it."""

    item: StoredItem


StreamEntry = StoredItem | tuple[str, Decision] | StateRecord | Expired


@dataclass(frozen=True)
class Tracked:
    changed: int  # addresses whose state item was written
    announced: int  # events put on the bus
    failed: list[str]  # ids of the records to retry


def _may_change(item: StoredItem) -> bool:
    """An event that can suppress an address (a hard or soft bounce, failure or block)."""
    return item.get("bounce_type") in ("hard", "soft") and item.get("status") != "deferred"


def _clears(item: StoredItem) -> bool:
    return item.get("event_type") == "deliveries" and item.get("status") == "succeeded"


@dataclass
class _Batch:
    """A stream batch sorted by what the tracker does with each record."""

    must: dict[str, list[str]] = field(default_factory=dict)  # address -> ids of records that may change it
    maybe: dict[str, list[str]] = field(default_factory=dict)  # deliveries: only lift a soft suppression
    fresh: dict[str, list[StoredItem]] = field(default_factory=dict)  # events the index may not show yet
    gone: dict[str, list[StoredItem]] = field(default_factory=dict)  # events TTL deleted
    announcements: list[tuple[str, StateRecord]] = field(default_factory=list)

    def add(self, entry_id: str, entry: StreamEntry) -> None:
        if isinstance(entry, Expired):
            if "recipient_key" in entry.item:
                self.must.setdefault(entry.item["recipient_key"], []).append(entry_id)
                self.gone.setdefault(entry.item["recipient_key"], []).append(entry.item)
        elif isinstance(entry, StateRecord):
            if entry.state_change:
                self.announcements.append((entry_id, entry))
        elif isinstance(entry, tuple):
            self.must.setdefault(entry[0], []).append(entry_id)
        elif "recipient_key" in entry and (_may_change(entry) or _clears(entry)):
            key = entry["recipient_key"]
            (self.must if _may_change(entry) else self.maybe).setdefault(key, []).append(entry_id)
            self.fresh.setdefault(key, []).append(entry)


def track(
    entries: Sequence[tuple[str, StreamEntry]],
    *,
    events: AddressEvents,
    store: SuppressionStore,
    policy: SuppressionPolicy,
    publisher: EventPublisher,
    bus_name: str,
    source: str,
) -> Tracked:
    """One stream batch, each entry with an id of the caller's (its sequence number): recompute the
    addresses it may change, write the changed states, announce the state changes it holds."""
    batch = _Batch()
    for entry_id, entry in entries:
        batch.add(entry_id, entry)
    must, maybe, gone = batch.must, batch.maybe, batch.gone
    current = store.states([*must, *maybe]) if must or maybe else {}
    failed: list[str] = []
    changed = 0
    for key in [*must, *(key for key in maybe if key not in must)]:
        before = current.get(key)
        if key not in must and not (before and before.state.suppressed):
            continue  # a delivery to an address not suppressed changes nothing: no read
        after = compute_state(
            newest_events(events, key),
            store.decisions(key),
            policy,
            also=batch.fresh.get(key, ()),
            gone=gone.get(key, ()),
        )
        if key in gone and not after.suppressed and after.lifted_at is None:
            after = replace(after, lifted_at=expired_at(gone[key]))
        record = next_record(key, before, after)
        if record is None:
            continue
        if store.put_state(record, expected_version=before.version if before else None):
            changed += 1
        else:  # another batch wrote it meanwhile: retry these records against the new state
            failed += must.get(key, []) + maybe.get(key, [])
    announcements = batch.announcements
    entries_out = [
        announcement_entry(record, bus_name=bus_name, source=source) for _, record in announcements
    ]
    refused = publisher.publish(entries_out) if entries_out else []
    failed += [announcements[index][0] for index in refused]
    return Tracked(changed=changed, announced=len(entries_out) - len(refused), failed=failed)


def expired_at(items: Sequence[StoredItem]) -> str:
    """When the latest of these TTL-deleted events expired, ISO-8601 UTC."""
    return datetime.fromtimestamp(max(item["expires_at"] for item in items), UTC).isoformat()


def next_record(key: str, before: StateRecord | None, after: Suppression) -> StateRecord | None:
    """The state item to write, or None if the state is what it stores (nothing to write, nothing to
    announce). Never suppressed and still not: no item at all."""
    previous = before.state if before else NOT_SUPPRESSED
    if after == previous or (before is None and not after.suppressed):
        return None
    flipped = after.suppressed != previous.suppressed
    changes = (before.changes if before else 0) + (1 if flipped else 0)
    state_change = None
    if flipped:
        state_change = contract.STATE_CHANGES[0] if after.suppressed else contract.STATE_CHANGES[1]
    return StateRecord(
        address=key,
        state=after,
        version=(before.version if before else 0) + 1,
        changes=changes,
        state_change=state_change,
    )


def announcement_detail(record: StateRecord) -> RecipientSuppressionDetail:
    state = record.state
    if state.suppressed:
        reason, since = state.reason or "", state.since or ""
    else:
        reason = "lifted" if state.decision_id else "delivered" if state.cause_event_id else "expired"
        since = state.lifted_at or ""
    return RecipientSuppressionDetail(
        change_id=f"{record.address}#{record.changes}",
        address=record.address,
        suppressed=state.suppressed,
        reason=reason,
        since=since,
        cause_event_id=state.cause_event_id,
        decision_id=state.decision_id,
        actor=state.actor,
        cmc_block_list=state.cmc_block_list,
    )


def announcement_entry(record: StateRecord, *, bus_name: str, source: str) -> dict[str, Any]:
    detail = announcement_detail(record)
    return {
        "EventBusName": bus_name,
        "Source": source,
        "DetailType": contract.SUPPRESSED_DETAIL_TYPE
        if detail.suppressed
        else contract.UNSUPPRESSED_DETAIL_TYPE,
        "Detail": detail.model_dump_json(exclude_none=True),
    }
