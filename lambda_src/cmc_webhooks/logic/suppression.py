"""Should we stop mailing an address? Derived at read time from the recipient's events.

Rules (docs/bounces.md; each can be changed in SuppressionPolicy, from the function's settings):
- a hard bounce suppresses at once; so do a block, a suppressed address (CMC code 10) and a
  one-click unsubscribe (code 11) — none of these is cleared by a later delivery;
- soft bounces suppress once `soft_bounce_threshold` distinct messages soft-bounced within
  `soft_bounce_window`; a later successful delivery clears that (and restarts the count);
- `deferred` deliveries are CMC still retrying: they never count.
A failed delivery and its bounce record describe one failure: counting distinct messages
keeps the pair from counting twice.

Manual decisions (logic/suppressions.py stores them) are applied in time order with the events: a
manual suppression holds until it is lifted; a lift clears whatever suppressed the address and holds
until the next hard bounce, block, or soft bounces over the threshold after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from cmc_webhooks.models.store import StoredItem

PERMANENT_CATEGORIES = frozenset({"suppressed", "unsubscribed"})


@dataclass(frozen=True)
class SuppressionPolicy:
    soft_bounce_threshold: int = 3
    soft_bounce_window: timedelta = timedelta(days=7)
    hard_bounce_suppresses: bool = True
    block_suppresses: bool = True  # blocks, CMC's suppressed (code 10) and unsubscribed (11)
    success_clears_soft_bounces: bool = True


@dataclass(frozen=True)
class Suppression:
    suppressed: bool
    reason: str | None = None
    since: str | None = None
    cause_event_id: str | None = None  # the event that decided it (or, lifted: the delivery that did)
    decision_id: str | None = None  # or the manual decision
    actor: str | None = None  # who made that decision
    cmc_block_list: bool = False  # CMC itself refuses the address: lift it in CMC's console first
    lifted_at: str | None = None  # not suppressed: when a lift or a delivery ended the last suppression


NOT_SUPPRESSED = Suppression(False)

MANUAL_REASON_PREFIX = "manual:"


@dataclass(frozen=True)
class Decision:
    """A manual suppress or lift, as stored: never changed once made."""

    decision_id: str
    action: Literal["suppress", "lift"]
    decided_at: str  # ISO-8601 UTC
    actor: str  # the caller's IAM principal
    reason: str | None = None  # suppress: why; a lift has none
    note: str | None = None


def _counts_as_bounce(event: StoredItem) -> bool:
    return event.get("event_type") == "bounces" or _is_delivery(event, "failed")


def _is_delivery(event: StoredItem, status: str) -> bool:
    return event.get("event_type") == "deliveries" and event.get("status") == status


def _in_time_order(
    events_oldest_first: Iterable[StoredItem], decisions: Iterable[Decision]
) -> list[StoredItem | Decision]:
    """Events (skipping those without a time) and decisions merged by time. The sort is stable: on a
    tie, events keep the store's order and come before a decision."""
    timed: list[tuple[datetime, StoredItem | Decision]] = [
        (datetime.fromisoformat(occurred), event)
        for event in events_oldest_first
        if (occurred := event.get("occurred_at")) is not None
    ]
    timed += [(datetime.fromisoformat(decision.decided_at), decision) for decision in decisions]
    return [entry for _, entry in sorted(timed, key=lambda pair: pair[0])]


def suppression(
    events_oldest_first: Iterable[StoredItem], policy: SuppressionPolicy, decisions: Iterable[Decision] = ()
) -> Suppression:
    state = NOT_SUPPRESSED
    permanent = False  # nothing but a lift ends it: a block, a hard bounce, a manual suppression
    soft: dict[str, datetime] = {}  # message_id -> time of its latest soft bounce
    for entry in _in_time_order(events_oldest_first, decisions):
        if isinstance(entry, Decision):
            if entry.action == "lift":
                state = Suppression(
                    False, decision_id=entry.decision_id, actor=entry.actor, lifted_at=entry.decided_at
                )
                permanent, soft = False, {}
            elif not permanent:
                reason = f"{MANUAL_REASON_PREFIX}{entry.reason}"
                state = Suppression(
                    True, reason, entry.decided_at, decision_id=entry.decision_id, actor=entry.actor
                )
                permanent = True
            continue
        event = entry
        occurred = event["occurred_at"]  # _in_time_order keeps only events with a time
        category = event.get("bounce_category", "")
        cause = event.get("event_id")
        if event.get("event_type") == "blocks" or category in PERMANENT_CATEGORIES:
            reason = "blocked" if event.get("event_type") == "blocks" else category
            if policy.block_suppresses and not permanent:
                state = Suppression(True, reason, occurred, cause_event_id=cause, cmc_block_list=True)
                permanent = True
        elif event.get("bounce_type") == "hard" and _counts_as_bounce(event):
            if policy.hard_bounce_suppresses and not permanent:
                reason = f"hard_bounce:{category or 'other'}"
                state, permanent = Suppression(True, reason, occurred, cause_event_id=cause), True
        elif event.get("bounce_type") == "soft" and _counts_as_bounce(event):
            at = datetime.fromisoformat(occurred)
            soft[event["message_id"]] = at
            recent = [t for t in soft.values() if at - policy.soft_bounce_window <= t <= at]
            if not state.suppressed and len(recent) >= policy.soft_bounce_threshold:
                window_days = policy.soft_bounce_window.days
                reason = f"soft_bounces:{len(recent)}_in_{window_days}_days"
                state = Suppression(True, reason, occurred, cause_event_id=cause)
        elif _is_delivery(event, "succeeded") and policy.success_clears_soft_bounces and not permanent:
            if state.suppressed:  # the delivery is what lifted it
                state = Suppression(False, cause_event_id=cause, lifted_at=occurred)
            soft = {}
    return state
