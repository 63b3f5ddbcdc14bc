"""The adapter's batching and retry rules, against a scripted client (no network)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cmc_webhooks.dal.dynamodb import UNPROCESSED_ATTEMPTS, DynamoDBEventStore, deserialize, serialize
from cmc_webhooks.errors import StorageUnavailable
from cmc_webhooks.models.store import StoredItem


def item(n: int) -> StoredItem:
    return {
        "message_id": f"m-{n}@example.com",
        "sk": f"EVENT#2023-01-25T05:03:06Z#{n:032d}",
        "kind": "event",
        "event_id": f"{n:032d}",
        "event_type": "deliveries",
        "received_at": "2026-11-26T00:00:00.000Z",
        "expires_at": 1_800_000_000,
        "subject": "件名",
    }


class ScriptedClient:
    """Answers BatchWriteItem as told: hand back some items unprocessed, or fail."""

    def __init__(self, *, unprocessed_rounds: int = 0, error: Exception | None = None) -> None:
        self.unprocessed_rounds = unprocessed_rounds
        self.error = error
        self.calls: list[int] = []
        self.stored: dict[tuple[str, str], Any] = {}
        self.lock = threading.Lock()

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        [(table, requests)] = RequestItems.items()
        with self.lock:
            self.calls.append(len(requests))
            if self.error:
                raise self.error
            if self.unprocessed_rounds > 0:
                self.unprocessed_rounds -= 1
                kept, back = requests[: len(requests) // 2], requests[len(requests) // 2 :]
            else:
                kept, back = requests, []
            for request in kept:
                stored = request["PutRequest"]["Item"]
                self.stored[(stored["message_id"]["S"], stored["sk"]["S"])] = stored
        return {"UnprocessedItems": {table: back} if back else {}}


def store_with(client: ScriptedClient) -> tuple[DynamoDBEventStore, list[float]]:
    sleeps: list[float] = []
    return DynamoDBEventStore("events", client=client, sleep=sleeps.append), sleeps  # type: ignore[arg-type]


def test_n_items_cost_ceil_n_over_25_calls() -> None:
    client = ScriptedClient()
    store, _ = store_with(client)
    store.write([item(n) for n in range(60)])
    assert sorted(client.calls) == [10, 25, 25]
    assert len(client.stored) == 60


def test_unprocessed_items_are_retried_with_backoff_until_stored() -> None:
    client = ScriptedClient(unprocessed_rounds=3)
    store, sleeps = store_with(client)
    store.write([item(n) for n in range(20)])
    assert len(client.stored) == 20
    assert len(sleeps) == 3
    assert all(0 < seconds <= 2.0 for seconds in sleeps)


def test_items_still_unprocessed_after_the_retries_raise_instead_of_passing_silently() -> None:
    client = ScriptedClient(unprocessed_rounds=10_000)
    store, _ = store_with(client)
    with pytest.raises(StorageUnavailable, match="unprocessed"):
        store.write([item(n) for n in range(8)])
    assert len(client.calls) == UNPROCESSED_ATTEMPTS
    assert len(client.stored) < 8


def test_a_refused_call_raises_storage_unavailable() -> None:
    error = ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}}, "BatchWriteItem")
    store, _ = store_with(ScriptedClient(error=error))
    with pytest.raises(StorageUnavailable):
        store.write([item(n) for n in range(30)])


def test_nothing_to_write_makes_no_call() -> None:
    client = ScriptedClient()
    store, _ = store_with(client)
    store.write([])
    assert client.calls == []


def test_items_round_trip_through_the_wire_format() -> None:
    original = item(7)
    wire = serialize(original)
    assert wire["expires_at"] == {"N": "1800000000"}
    assert wire["subject"] == {"S": "件名"}
    assert deserialize(wire) == original


class BlockedClient:
    """A BatchWriteItem that does not come back until released (botocore still retrying a throttled call)."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        self.release.wait(timeout=30)
        return {}


def test_a_write_that_outlasts_its_budget_is_refused_so_that_the_webhook_can_be_spilled() -> None:
    client = BlockedClient()
    store = DynamoDBEventStore("t", client=client, write_budget=0.05)  # type: ignore[arg-type]
    try:
        with pytest.raises(StorageUnavailable, match=r"took longer than 0\.05 s"):
            store.write([item(n) for n in range(30)])
    finally:
        client.release.set()
