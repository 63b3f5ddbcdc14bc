"""The reconciliation's logic without AWS: API rows get the webhook's keys; paging; what a day writes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cmc_webhooks.logic.ingest import IngestOptions, build_batch, parse_envelope
from cmc_webhooks.logic.reconcile import (
    ReconcileError,
    ReconcileOptions,
    as_webhook_record,
    dates_between,
    pages,
    reconcile_day,
    reconcile_days,
    yesterday,
)
from cmc_webhooks.models.store import StoredItem
from tests.conftest import SEED_FIXTURES, load_fixture

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
INGEST = IngestOptions(time_zone=TOKYO, retention=timedelta(days=30), max_records=5000)
OPTIONS = ReconcileOptions(server_composition="pro", ingest=INGEST, rows_per_page=2)


def webhook_keys(document: dict[str, Any]) -> set[tuple[str, str]]:
    batch = build_batch(parse_envelope(document), options=INGEST, received_at=NOW)
    return {(item["message_id"], item["sk"]) for item in batch.items}


def as_api_row(record: dict[str, Any]) -> dict[str, Any]:
    """The same event as the API may answer it: created in UTC with an offset, messageId without <>,
    a bounce code as a number, empty texts as null."""
    local = datetime.strptime(record["created"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=TOKYO)
    row: dict[str, Any] = {name: (value or None) for name, value in record.items()}
    row["created"] = local.astimezone(UTC).isoformat().replace("+00:00", "Z")
    row["messageId"] = record["messageId"].strip("<>")
    if record["status"].isdigit():
        row["status"] = int(record["status"])
    return row


class FakeApi:
    def __init__(self, rows: dict[str, list[dict[str, Any]]], statistics: list[dict[str, Any]]) -> None:
        self.rows, self.statistics, self.requests = rows, statistics, 0
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def list(self, resource: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
        self.requests += 1
        self.calls.append((resource, filters))
        if resource == "statistics":
            return self.statistics
        start = filters["p"] * filters["r"]
        return self.rows.get(resource, [])[start : start + filters["r"]]


class MemoryStore:
    def __init__(self, counts: dict[str, int] | None = None) -> None:
        self.items: dict[tuple[str, str], StoredItem] = {}
        self.counts = counts or {}
        self.writes = 0

    def day_counts(self, server_composition: str, day: date) -> dict[str, int]:
        return dict(self.counts)

    def stored_keys(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        return set(keys) & set(self.items)

    def write(self, items: Sequence[StoredItem]) -> None:
        self.writes += 1
        for item in items:
            self.items[(item["message_id"], item["sk"])] = item


@pytest.mark.parametrize("name", SEED_FIXTURES)
def test_an_api_row_gets_the_key_of_the_same_event_received_by_webhook(name: str) -> None:
    document = load_fixture(name)
    [records] = document["event"].values()
    api_document = {**document, "event": {document["event_type"]: [as_api_row(r) for r in records]}}
    mapped = {
        **api_document,
        "event": {api_document["event_type"]: [as_webhook_record(r, TOKYO) for r in records]},
    }
    api_mapped = {
        **api_document,
        "event": {document["event_type"]: [as_webhook_record(as_api_row(r), TOKYO) for r in records]},
    }

    assert webhook_keys(api_mapped) == webhook_keys(document) == webhook_keys(mapped)


def test_a_created_without_offset_is_read_in_the_console_zone_as_the_webhook_is() -> None:
    record = {"created": "2023-01-25 14:03:06", "status": "queued"}
    assert as_webhook_record(record, TOKYO) == record
    assert as_webhook_record({**record, "created": "2023-01-25T14:03:06+09:00"}, TOKYO) == record


def deliveries(count: int) -> list[dict[str, Any]]:
    template = load_fixture("seed_deliveries_queued")["event"]["deliveries"][0]
    return [dict(template, messageId=f"<m-{n}@example.com>") for n in range(count)]


def statistics(queued: int) -> list[dict[str, Any]]:
    return [{"date": "2023-01-25", "queued": queued, "succeeded": 0, "failed": 0, "blocked": 0, "valid": 0}]


def test_a_day_with_gaps_writes_only_what_is_missing() -> None:
    rows = deliveries(5)
    store = MemoryStore(counts={"queued": 2})
    half = {"event_type": "deliveries", "server_composition": "pro", "event": {"deliveries": rows[:2]}}
    for item in build_batch(parse_envelope(half), options=INGEST, received_at=NOW).items:
        store.items[(item["message_id"], item["sk"])] = item
    api = FakeApi({"deliveries": rows}, statistics(5))

    summary = reconcile_day(date(2023, 1, 25), api=api, store=store, options=OPTIONS, now=NOW)

    assert summary.as_dict() == {
        "date": "2023-01-25",
        "cmc_counts": {"queued": 5, "succeeded": 0, "failed": 0, "blocked": 0, "valid": 0},
        "stored_before": {"queued": 2},
        "fetched": 5,
        "written": 3,
        "already_stored": 2,
        "quarantined": 0,
        # statistics, deliveries p=0,1,2 (2, 2, 1 rows), bounces p=0 (none)
        "requests": 5,
    }
    assert len(store.items) == 5


def test_a_day_whose_counts_agree_reads_only_its_bounces_and_writes_nothing() -> None:
    store = MemoryStore(counts={"queued": 5})
    api = FakeApi({"deliveries": deliveries(5)}, statistics(5))

    summary = reconcile_day(date(2023, 1, 25), api=api, store=store, options=OPTIONS, now=NOW)

    assert (summary.fetched, summary.written, summary.requests) == (0, 0, 2)
    assert [resource for resource, _ in api.calls] == ["statistics", "bounces"]
    assert store.items == {}


def test_paging_starts_at_page_zero_and_stops_on_a_short_page() -> None:
    api = FakeApi({"deliveries": deliveries(4)}, [])

    got = list(pages(api, "deliveries", date(2023, 1, 25), 2))

    assert [len(page) for page in got] == [2, 2, 0]
    assert [filters["p"] for _, filters in api.calls] == [0, 1, 2]


def test_a_page_that_repeats_stops_the_run_before_anything_is_written() -> None:
    class Repeating(FakeApi):
        def list(self, resource: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
            return super().list(resource, {**filters, "p": 0})

    store = MemoryStore()
    api = Repeating({"deliveries": deliveries(4)}, statistics(4))

    with pytest.raises(ReconcileError, match="page 1 repeats page 0"):
        reconcile_day(date(2023, 1, 25), api=api, store=store, options=OPTIONS, now=NOW)
    assert store.writes == 0


def test_a_range_is_bounded_and_yesterday_is_the_console_s() -> None:
    assert dates_between(date(2026, 1, 30), date(2026, 2, 1), max_days=3)[-1] == date(2026, 2, 1)
    with pytest.raises(ReconcileError, match="at most 2 days"):
        dates_between(date(2026, 1, 30), date(2026, 2, 1), max_days=2)
    with pytest.raises(ReconcileError, match="before it starts"):
        dates_between(date(2026, 2, 1), date(2026, 1, 30), max_days=5)
    # 2026-11-26T16:00Z is already the 27th in Tokyo
    assert yesterday(datetime(2026, 11, 26, 16, 0, tzinfo=UTC), TOKYO) == date(2026, 11, 26)


def test_a_range_reads_each_month_s_statistics_once() -> None:
    api = FakeApi({}, statistics(0))

    summaries, failures = reconcile_days(
        dates_between(date(2023, 1, 30), date(2023, 2, 2), max_days=31),
        api=api,
        store=MemoryStore(),
        options=OPTIONS,
        now=lambda: NOW,
    )

    assert failures == []
    assert [day["date"] for day in summaries] == ["2023-01-30", "2023-01-31", "2023-02-01", "2023-02-02"]
    months = [(f["year"], f["month"]) for resource, f in api.calls if resource == "statistics"]
    assert months == [(2023, 1), (2023, 2)]
