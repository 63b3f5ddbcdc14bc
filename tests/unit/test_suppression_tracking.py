"""The tracker's use case with in-memory fakes: what it reads, writes and announces per stream batch."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from cmc_webhooks.logic.suppression import Decision
from cmc_webhooks.logic.suppressions import Expired, StateRecord, StreamEntry, Tracked, track
from cmc_webhooks.models.store import StoredItem
from tests.unit.test_suppression import POLICY, event

ADDRESS = "user@example.jp"


class Events:
    """The events the tracker reads: every event of an address."""

    def __init__(self, *items: StoredItem) -> None:
        self.items = list(items)
        self.reads = 0

    def recipient_all(self, recipient_key: str) -> list[StoredItem]:
        self.reads += 1
        found = [item for item in self.items if item.get("recipient_key") == recipient_key]
        return sorted(found, key=lambda item: item["sk"])


class Store:
    def __init__(self) -> None:
        self.made: dict[str, list[Decision]] = {}
        self.saved: dict[str, StateRecord] = {}
        self.writes: list[StateRecord] = []
        self.conflicts = 0

    def decisions(self, address: str) -> list[Decision]:
        return list(self.made.get(address, []))

    def add_decision(self, address: str, decision: Decision) -> None:
        self.made.setdefault(address, []).append(decision)

    def states(self, addresses: Iterable[str]) -> dict[str, StateRecord]:
        return {address: self.saved[address] for address in addresses if address in self.saved}

    def put_state(self, record: StateRecord, *, expected_version: int | None) -> bool:
        if self.conflicts:
            self.conflicts -= 1
            return False
        stored = self.saved.get(record.address)
        assert (stored.version if stored else None) == expected_version
        self.saved[record.address] = record
        self.writes.append(record)
        return True

    def suppressed_page(self, limit: int, after: str | None) -> tuple[list[StateRecord], str | None]:
        raise AssertionError("not read by the tracker")


class Bus:
    def __init__(self, refuse: int = 0) -> None:
        self.entries: list[dict[str, Any]] = []
        self.refuse = refuse

    def publish(self, entries: Sequence[dict[str, Any]]) -> list[int]:
        refused = list(range(min(self.refuse, len(entries))))
        self.entries += [entry for index, entry in enumerate(entries) if index not in refused]
        return refused


def run(events: Events, store: Store, bus: Bus, entries: list[tuple[str, StreamEntry]]) -> Tracked:
    return track(entries, events=events, store=store, policy=POLICY, publisher=bus, bus_name="b", source="s")


def stream_of_writes(store: Store, start: int) -> list[tuple[str, StreamEntry]]:
    """The stream records of the state items written since `start`, as the tracker gets them back."""
    return [(f"w{index}", record) for index, record in enumerate(store.writes[start:], start)]


def test_a_hard_bounce_writes_the_state_once_and_its_record_announces_it_once() -> None:
    hard = event(1, "hard")
    events, store, bus = Events(hard), Store(), Bus()

    first = run(events, store, bus, [("1", hard)])
    assert (first.changed, first.announced, first.failed) == (1, 0, [])
    [record] = store.writes
    assert (record.version, record.changes, record.state_change) == (1, 1, "suppressed")

    # the state item's own stream record announces it
    announced = run(events, store, bus, stream_of_writes(store, 0))
    assert announced.announced == 1
    [entry] = bus.entries
    assert (entry["DetailType"], entry["Source"], entry["EventBusName"]) == ("Recipient Suppressed", "s", "b")
    detail = json.loads(entry["Detail"])
    assert detail == {
        "schema_version": "1.0",
        "change_id": f"{ADDRESS}#1",
        "address": ADDRESS,
        "suppressed": True,
        "reason": "hard_bounce:user_unknown",
        "since": hard["occurred_at"],
        "cause_event_id": hard["event_id"],
        "cmc_block_list": False,
    }

    # the same bounce delivered again: same state, nothing written, nothing announced
    again = run(events, store, bus, [("1", hard), ("2", hard)])
    assert (again.changed, again.announced, len(store.writes)) == (0, 0, 1)


def test_a_change_of_reason_alone_is_written_but_not_announced() -> None:
    soft = [event(day, "soft", message=f"m{day}") for day in (1, 2, 3)]
    events, store, bus = Events(*soft), Store(), Bus()
    run(events, store, Bus(), [("s", soft[2])])
    hard = event(4, "hard", message="m4")
    events.items.append(hard)
    result = run(events, store, Bus(), [("h", hard)])
    assert result.changed == 1
    record = store.writes[-1]
    assert (record.state.reason, record.state_change, record.changes, record.version) == (
        "hard_bounce:user_unknown",
        None,
        1,
        2,
    )
    assert run(events, store, bus, stream_of_writes(store, 1)).announced == 0


def test_an_event_the_index_does_not_show_yet_still_counts() -> None:
    hard = event(1, "hard")
    store = Store()
    run(Events(), store, Bus(), [("1", hard)])  # the index lags: only the stream has it
    assert store.saved[ADDRESS].state.suppressed is True


def test_a_delivery_reads_nothing_unless_the_address_is_suppressed() -> None:
    success = event(5, "success")
    events, store = Events(success), Store()
    assert run(events, store, Bus(), [("d", success)]).changed == 0
    assert events.reads == 0
    assert store.writes == []


def test_a_delivery_lifts_a_soft_bounce_suppression_and_announces_unsuppressed() -> None:
    soft = [event(day, "soft", message=f"m{day}") for day in (1, 2, 3)]
    events, store, bus = Events(*soft), Store(), Bus()
    run(events, store, bus, [("s", soft[2])])
    success = event(4, "success")
    events.items.append(success)
    assert run(events, store, bus, [("d", success)]).changed == 1
    run(events, store, bus, stream_of_writes(store, 1))
    [entry] = bus.entries
    detail = json.loads(entry["Detail"])
    assert (entry["DetailType"], detail["reason"], detail["since"], detail["change_id"]) == (
        "Recipient Unsuppressed",
        "delivered",
        success["occurred_at"],
        f"{ADDRESS}#2",
    )
    assert detail["cause_event_id"] == success["event_id"]


def test_a_lift_is_announced_with_its_decision_and_actor() -> None:
    hard = event(1, "hard")
    events, store, bus = Events(hard), Store(), Bus()
    run(events, store, bus, [("1", hard)])
    lift = Decision("d1", "lift", "2026-01-02T00:00:00+00:00", "arn:aws:iam::1:user/ops", note="fixed")
    store.add_decision(ADDRESS, lift)
    run(events, store, bus, [("d", (ADDRESS, lift))])
    run(events, store, bus, stream_of_writes(store, 1))
    [entry] = bus.entries
    detail = json.loads(entry["Detail"])
    assert (detail["suppressed"], detail["reason"], detail["decision_id"], detail["actor"]) == (
        False,
        "lifted",
        "d1",
        "arn:aws:iam::1:user/ops",
    )
    assert detail["since"] == "2026-01-02T00:00:00+00:00"


def test_a_never_suppressed_address_gets_no_item() -> None:
    soft = event(1, "soft")
    store = Store()
    assert run(Events(soft), store, Bus(), [("1", soft)]).changed == 0
    assert store.writes == []


def test_deferrals_are_not_recomputed() -> None:
    deferred = event(1, "deferred")
    events = Events(deferred)
    run(events, Store(), Bus(), [("1", deferred)])
    assert events.reads == 0


def test_a_write_that_lost_the_race_retries_the_records_of_that_address_only() -> None:
    first, other = event(1, "hard"), event(1, "hard", message="m2", recipient_key="other@example.jp")
    store = Store()
    store.conflicts = 1
    result = run(Events(first, other), store, Bus(), [("1", first), ("2", other)])
    assert (result.changed, result.failed) == (1, ["1"])


def test_announcements_the_bus_refused_are_retried() -> None:
    hard = event(1, "hard")
    store = Store()
    run(Events(hard), store, Bus(), [("1", hard)])
    result = run(Events(hard), store, Bus(refuse=1), stream_of_writes(store, 0))
    assert (result.announced, result.failed) == (0, ["w0"])


def test_a_soft_bounce_deleted_by_ttl_lifts_the_suppression_it_made() -> None:
    soft = [event(day, "soft", message=f"m{day}") for day in (1, 2, 3)]
    events, store, bus = Events(*soft), Store(), Bus()
    run(events, store, bus, [("s", soft[2])])
    # the index may still show the deleted event: the tracker leaves it out all the same
    result = run(events, store, bus, [("x", Expired(soft[0]))])
    assert result.changed == 1
    assert (store.saved[ADDRESS].state.suppressed, store.saved[ADDRESS].state_change) == (
        False,
        "unsuppressed",
    )


def test_an_expired_event_of_an_address_never_suppressed_writes_nothing() -> None:
    soft = event(1, "soft")
    store = Store()
    assert run(Events(soft), store, Bus(), [("x", Expired(soft))]).changed == 0
    assert store.writes == []
