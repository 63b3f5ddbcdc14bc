"""What an item costs to keep: how long it lives, and whether the recipient index holds it. No AWS here.

Retention classes (docs/cost.md argues the stage defaults):
- `clean`: queued, deferred and succeeded deliveries, and soft bounces and soft failures. A later
  success clears soft bounces (logic/suppression.py), so a soft bounce must not outlive the successes
  that cleared it; a queued or deferred event must not outlive the outcome that followed it
  (logic/status.py). Hence one class, kept no longer than the lasting one (settings.py checks it).
- `lasting`: hard and undetermined bounces and failures, blocks, CMC's suppressed and unsubscribed
  codes, and every event type we do not model: what may stop mail to an address for good.
- `quarantine`: records that failed validation.

The recipient index holds every event, or (sparse) only those the suppression verdict reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from cmc_webhooks import contract
from cmc_webhooks.models.store import StoredItem

RetentionClass = Literal["clean", "lasting", "quarantine"]
CLEAN_DELIVERY_STATUSES = frozenset({"queued", "deferred", "succeeded"})


def retention_class(item: StoredItem) -> RetentionClass:
    if item["kind"] == "quarantine":
        return "quarantine"
    event_type, status = item["event_type"], item.get("status")
    if event_type == "deliveries" and status in CLEAN_DELIVERY_STATUSES:
        return "clean"
    counts_as_bounce = event_type == "bounces" or (event_type == "deliveries" and status == "failed")
    # CMC's suppressed and unsubscribed codes are hard (logic/classify.py): they stay.
    return "clean" if counts_as_bounce and item.get("bounce_type") == "soft" else "lasting"


def read_by_suppression(item: StoredItem, *, successes: bool) -> bool:
    """Whether logic/suppression.py's verdict reads this event: blocks, bounces (CMC's suppressed and
    unsubscribed codes among them), failed deliveries, and successes when a success clears soft bounces."""
    event_type, status = item["event_type"], item.get("status")
    return event_type in {"blocks", "bounces"} or (
        event_type == "deliveries" and (status == "failed" or (successes and status == "succeeded"))
    )


@dataclass(frozen=True)
class StoragePolicy:
    """The stage's storage levers, as the ingest applies them to each item."""

    retention: timedelta  # the lasting class
    clean_retention: timedelta | None = None  # None: as `retention`
    quarantine_retention: timedelta | None = None  # None: as `retention`
    recipient_index: str = contract.RECIPIENT_INDEX_ALL
    # The sparse index also holds successes when a success clears soft bounces (the suppression rule).
    index_successes: bool = True

    def retention_of(self, item: StoredItem) -> timedelta:
        match retention_class(item):
            case "clean":
                return self.clean_retention or self.retention
            case "quarantine":
                return self.quarantine_retention or self.retention
            case _:
                return self.retention

    def in_recipient_index(self, item: StoredItem) -> bool:
        if self.recipient_index == contract.RECIPIENT_INDEX_ALL:
            return True
        return read_by_suppression(item, successes=self.index_successes)
