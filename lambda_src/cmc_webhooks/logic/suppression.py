"""Should we stop mailing an address? Derived at read time from the recipient's events.

Rules (docs/bounces.md; each can be changed in SuppressionPolicy, from the function's settings):
- a hard bounce suppresses at once; so do a block, a suppressed address (CMC code 10) and a
  one-click unsubscribe (code 11) — none of these is cleared by a later delivery;
- soft bounces suppress once `soft_bounce_threshold` distinct messages soft-bounced within
  `soft_bounce_window`; a later successful delivery clears that (and restarts the count);
- `deferred` deliveries are CMC still retrying: they never count.
A failed delivery and its bounce record describe one failure: counting distinct messages
keeps the pair from counting twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

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


NOT_SUPPRESSED = Suppression(False)


def _counts_as_bounce(event: StoredItem) -> bool:
    return event.get("event_type") == "bounces" or _is_delivery(event, "failed")


def _is_delivery(event: StoredItem, status: str) -> bool:
    return event.get("event_type") == "deliveries" and event.get("status") == status


def suppression(events_oldest_first: Iterable[StoredItem], policy: SuppressionPolicy) -> Suppression:
    state = NOT_SUPPRESSED
    permanent = False
    soft: dict[str, datetime] = {}  # message_id -> time of its latest soft bounce
    for event in events_oldest_first:
        occurred = event.get("occurred_at")
        if occurred is None:
            continue
        category = event.get("bounce_category", "")
        if event.get("event_type") == "blocks" or category in PERMANENT_CATEGORIES:
            reason = "blocked" if event.get("event_type") == "blocks" else category
            if policy.block_suppresses and not permanent:
                state, permanent = Suppression(True, reason, occurred), True
        elif event.get("bounce_type") == "hard" and _counts_as_bounce(event):
            if policy.hard_bounce_suppresses and not permanent:
                state, permanent = Suppression(True, f"hard_bounce:{category or 'other'}", occurred), True
        elif event.get("bounce_type") == "soft" and _counts_as_bounce(event):
            at = datetime.fromisoformat(occurred)
            soft[event["message_id"]] = at
            recent = [t for t in soft.values() if at - policy.soft_bounce_window <= t <= at]
            if not state.suppressed and len(recent) >= policy.soft_bounce_threshold:
                window_days = policy.soft_bounce_window.days
                state = Suppression(True, f"soft_bounces:{len(recent)}_in_{window_days}_days", occurred)
        elif _is_delivery(event, "succeeded") and policy.success_clears_soft_bounces and not permanent:
            state, soft = NOT_SUPPRESSED, {}
    return state
