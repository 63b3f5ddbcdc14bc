"""Current status of each recipient of a message, derived from its events.

The rule (docs/data-model.md): a final status (succeeded, failed, bounced) always beats a
non-final one (queued, deferred), whatever their times, so a late `queued` or `deferred`
never undoes a delivery outcome; among events of the same finality the latest wins; at
equal times the more final status wins (bounced > failed > succeeded > deferred > queued).
Event types we do not model (e.g. `blocks`) do not change the status.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from cmc_webhooks.models.store import StoredItem

STATUS_RANK = {"queued": 0, "deferred": 1, "succeeded": 2, "failed": 3, "bounced": 4}
# The event types whose records carry a delivery status; any other type is kept but decides nothing.
MODELLED_EVENT_TYPES = frozenset({"deliveries", "bounces"})
FINAL_STATUSES = frozenset({"succeeded", "failed", "bounced"})


def precedence(status: str, occurred_at: datetime) -> tuple[bool, datetime, int]:
    return status in FINAL_STATUSES, occurred_at, STATUS_RANK[status]


def current_statuses(events: Iterable[StoredItem]) -> dict[str, StoredItem]:
    """recipient_key -> the event that decides that recipient's current status."""
    winners: dict[str, tuple[tuple[bool, datetime, int], StoredItem]] = {}
    for event in events:
        status = event.get("status", "")
        if (
            event.get("event_type") not in MODELLED_EVENT_TYPES
            or status not in STATUS_RANK
            or "occurred_at" not in event
            or "recipient_key" not in event
        ):
            continue
        rank = precedence(status, datetime.fromisoformat(event["occurred_at"]))
        key = event["recipient_key"]
        if key not in winners or rank > winners[key][0]:
            winners[key] = (rank, event)
    return {key: event for key, (_, event) in winners.items()}
