"""The suppression tracker's handler with in-memory fakes: a stream batch feeds the day counters of the
reconciliation first, then the suppression states."""

from __future__ import annotations

from typing import Any

import pytest

from cmc_dev.lambda_context import LocalLambdaContext
from cmc_webhooks.dal.dynamodb import serialize
from cmc_webhooks.errors import StorageUnavailable
from cmc_webhooks.handlers.suppression_tracker import TrackerDependencies, make_handler
from cmc_webhooks.logic.day_counts import DayKey
from cmc_webhooks.models.store import StoredItem
from cmc_webhooks.settings import TrackerSettings
from tests.unit.test_suppression import event
from tests.unit.test_suppression_tracking import Bus, Events, Store


class Counters:
    def __init__(self, *, fail: bool = False) -> None:
        self.added: list[dict[DayKey, int]] = []
        self.fail = fail

    def add_day_counts(self, counts: dict[DayKey, int]) -> None:
        if self.fail:
            raise StorageUnavailable("a day counter could not be updated")
        self.added.append(counts)


def record(sequence: int, item: StoredItem, event_name: str = "INSERT") -> dict[str, Any]:
    return {
        "eventName": event_name,
        "dynamodb": {"NewImage": serialize(item), "SequenceNumber": str(sequence)},
    }


def delivery(day: int, status: str, message: str) -> StoredItem:
    kind = "deferred" if status == "deferred" else "success"
    return event(day, kind, message, status=status, server_composition="pro")


def deps(store: Store, counters: Counters) -> TrackerDependencies:
    return TrackerDependencies(
        settings=TrackerSettings.from_env({"CMC_TABLE_NAME": "events", "CMC_EVENT_BUS_NAME": "bus"}),
        events=Events(),
        store=store,
        publisher=Bus(),
        counters=counters,
    )


BATCH = [
    record(1, delivery(2, "queued", "m1")),
    record(2, delivery(2, "succeeded", "m6")),
    record(3, delivery(2, "succeeded", "m2")),
    record(4, delivery(3, "deferred", "m3")),
    record(5, delivery(3, "succeeded", "m4"), event_name="MODIFY"),  # stored again: counted once already
    record(6, event(2, "hard", "m5", server_composition="pro")),  # a bounce: not a delivery
]


def test_the_new_deliveries_of_a_batch_are_counted_by_composition_day_and_status() -> None:
    store, counters = Store(), Counters()

    answer = make_handler(lambda: deps(store, counters))({"Records": BATCH}, LocalLambdaContext())

    assert counters.added == [
        {
            ("pro", "2026-01-02", "queued"): 1,
            ("pro", "2026-01-02", "succeeded"): 2,
            ("pro", "2026-01-03", "deferred"): 1,
        }
    ]
    # ... and the same batch is tracked: the hard bounce suppresses its address
    assert [written.state.suppressed for written in store.writes] == [True]
    assert answer == {"batchItemFailures": []}


def test_counters_that_cannot_be_updated_fail_the_whole_batch_before_anything_is_tracked() -> None:
    store = Store()
    handler = make_handler(lambda: deps(store, Counters(fail=True)))

    with pytest.raises(StorageUnavailable):
        handler({"Records": BATCH}, LocalLambdaContext())

    assert store.writes == []
