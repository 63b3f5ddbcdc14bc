"""Per-day counters of stored delivery events, kept from the table's stream (docs/reconcile.md).

The reconciliation compares them with CMC's daily statistics, so that a complete day costs no paging
through CMC's API and no read of the events. The suppression tracker counts the INSERTs of its stream
batches: an event stored again (the same key) is a MODIFY, never counted twice. No AWS in here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date
from typing import Protocol

from cmc_webhooks import contract
from cmc_webhooks.models.store import StoredItem

DayKey = tuple[str, str, str]  # server composition, day (YYYY-MM-DD in the console's zone), status


class DayCounterStore(Protocol):
    def add_day_counts(self, counts: dict[DayKey, int]) -> None:
        """Add each count to its counter item (one update per distinct key)."""
        ...


def day_partition(server_composition: str, day: date | str) -> str:
    text = day.isoformat() if isinstance(day, date) else day
    return f"{contract.DAY_COUNT_PARTITION_PREFIX}{server_composition}#{text}"


def count_inserted(items: Iterable[StoredItem]) -> dict[DayKey, int]:
    """The new delivery events of one stream batch, by composition, local day and status. The day is the
    date of `occurred_at`, which is written in the console's time zone, as CMC's statistics count it."""
    counts: Counter[DayKey] = Counter()
    for item in items:
        occurred_at, status = item.get("occurred_at", ""), item.get("status", "")
        if item.get("event_type") == "deliveries" and len(occurred_at) >= 10 and status:
            counts[(item.get("server_composition", ""), occurred_at[:10], status)] += 1
    return dict(counts)
