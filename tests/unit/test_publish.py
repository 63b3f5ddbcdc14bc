from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cmc_dev.fanout import matches
from cmc_dev.lambda_context import LocalLambdaContext
from cmc_webhooks import contract
from cmc_webhooks.dal.eventbridge import FAILED_ENTRY_ATTEMPTS, EventBridgePublisher
from cmc_webhooks.handlers.publisher import PublisherDependencies, make_handler
from cmc_webhooks.logic.ingest import IngestOptions, build_batch, parse_envelope
from cmc_webhooks.logic.publish import published_kind, put_events_entry
from cmc_webhooks.models.events import EmailEventDetail
from cmc_webhooks.models.store import StoredItem
from cmc_webhooks.settings import PublisherSettings, parse_time_zone
from tests.conftest import load_fixture

OPTIONS = IngestOptions(time_zone=parse_time_zone("Asia/Tokyo"), retention=timedelta(days=1), max_records=100)
DEFAULT = contract.DEFAULT_PUBLISHED_KINDS


def stored(name: str) -> StoredItem:
    [item] = build_batch(
        parse_envelope(load_fixture(name)), options=OPTIONS, received_at=datetime(2026, 1, 1, tzinfo=UTC)
    ).items
    return item


def stream_record(item: StoredItem, event_name: str = "INSERT") -> dict[str, Any]:
    image = {
        key: {"N": str(value)} if isinstance(value, int) else {"S": value} for key, value in item.items()
    }
    return {"eventName": event_name, "dynamodb": {"NewImage": image, "SequenceNumber": "1"}}


@pytest.mark.parametrize(
    ("name", "detail_type"),
    [
        ("seed_bounces_user_unknown", "Email Bounced"),
        ("seed_deliveries_failed_user_unknown", "Email Delivery Failed"),
        ("blocks", "Email Blocked"),
        ("seed_deliveries_succeeded", None),
        ("seed_deliveries_queued", None),
    ],
)
def test_by_default_bounces_failures_and_blocks_are_published(name: str, detail_type: str | None) -> None:
    item = stored(name)
    kind = published_kind(item, DEFAULT)
    assert (kind.detail_type if kind else None) == detail_type
    # the stream filter the mapping deploys agrees with the publisher's own rule
    patterns = contract.stream_filter_patterns(DEFAULT)
    assert any(matches(p, stream_record(item)) for p in patterns) == (detail_type is not None)
    assert not any(matches(p, stream_record(item, "MODIFY")) for p in patterns)


def test_other_statuses_can_be_switched_on() -> None:
    kinds = (*DEFAULT, "succeeded", "deferred")
    item = stored("seed_deliveries_succeeded")
    assert published_kind(item, kinds) == contract.PUBLISHABLE_KINDS["succeeded"]
    assert any(matches(p, stream_record(item)) for p in contract.stream_filter_patterns(kinds))
    assert len(contract.stream_filter_patterns(contract.PUBLISHABLE_KINDS)) <= 5  # a mapping's limit


def test_quarantined_records_are_never_published() -> None:
    item = stored("seed_bounces_user_unknown")
    item["kind"], item["sk"] = "quarantine", "QUARANTINE#" + item["event_id"]
    assert published_kind(item, DEFAULT) is None
    assert not any(matches(p, stream_record(item)) for p in contract.stream_filter_patterns(DEFAULT))


def test_the_entry_carries_the_documented_detail() -> None:
    item = stored("seed_bounces_user_unknown")
    entry = put_events_entry(item, contract.PUBLISHABLE_KINDS["bounced"], bus_name="bus", source="src")

    assert (entry["EventBusName"], entry["Source"], entry["DetailType"]) == ("bus", "src", "Email Bounced")
    detail = EmailEventDetail.model_validate_json(entry["Detail"])
    assert detail.schema_version == "1.0"
    assert detail.event_id == item["event_id"]
    assert detail.message_id == "9e7e564c-ac83-8cd8-2cb4-b9ff2a9f168d@example.com"
    assert detail.message_id_raw == "<9e7e564c-ac83-8cd8-2cb4-b9ff2a9f168d@example.com>"
    assert (detail.recipient, detail.sender, detail.return_path) == (
        "no-user@example.jp",
        "info@example.com",
        "info@return.pro.smtps.jp",
    )
    assert (detail.status, detail.bounce_code) == ("bounced", "2")
    assert detail.occurred_at == "2023-01-25T14:06:07+09:00"
    assert detail.received_at == "2026-01-01T00:00:00.000Z"
    assert detail.server_composition == "pro"
    assert detail.subject == "メールマガジンのテスト"


def test_a_blocks_detail_carries_the_raw_record() -> None:
    entry = put_events_entry(
        stored("blocks"), contract.PUBLISHABLE_KINDS["blocked"], bus_name="b", source="s"
    )
    assert json.loads(entry["Detail"])["raw"]["blockedBy"] == "list"


class ScriptedEvents:
    """PutEvents that fails chosen entries a number of times (forever with -1)."""

    def __init__(self, failures: dict[str, int], error_calls: int = 0) -> None:
        self.failures = failures
        self.error_calls = error_calls
        self.calls: list[int] = []
        self.published: list[str] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(len(Entries))
        if self.error_calls:
            self.error_calls -= 1
            raise ClientError({"Error": {"Code": "InternalException", "Message": "x"}}, "PutEvents")
        results = []
        for entry in Entries:
            left = self.failures.get(entry["Detail"], 0)
            if left:
                self.failures[entry["Detail"]] = left - 1
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "try again"})
            else:
                self.published.append(entry["Detail"])
                results.append({"EventId": entry["Detail"]})
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}


def entries(count: int) -> list[dict[str, Any]]:
    return [{"Detail": f"e{n}", "DetailType": "t", "Source": "s", "EventBusName": "b"} for n in range(count)]


def publisher_for(client: ScriptedEvents) -> EventBridgePublisher:
    return EventBridgePublisher(client=client, sleep=lambda _: None)


def test_entries_go_out_ten_per_call() -> None:
    client = ScriptedEvents({})
    assert publisher_for(client).publish(entries(25)) == []
    assert client.calls == [10, 10, 5]
    assert len(client.published) == 25


def test_failed_entries_are_resent_until_published() -> None:
    client = ScriptedEvents({"e3": 2, "e7": 1})
    assert publisher_for(client).publish(entries(12)) == []
    assert sorted(client.published) == sorted(f"e{n}" for n in range(12))
    assert client.calls == [10, 2, 2, 1]  # only the failed entries are sent again


def test_an_entry_that_keeps_failing_is_reported_alone() -> None:
    client = ScriptedEvents({"e4": -1})
    assert publisher_for(client).publish(entries(6)) == [4]
    assert len(client.published) == 5
    assert len(client.calls) == FAILED_ENTRY_ATTEMPTS


def test_a_call_that_fails_after_botocores_retries_fails_its_entries_only() -> None:
    # botocore retried the call already; the stream mapping retries these records, not this loop.
    client = ScriptedEvents({"e11": 1}, error_calls=1)
    assert publisher_for(client).publish(entries(12)) == list(range(10))
    assert client.calls == [10, 2, 1]
    assert client.published == ["e10", "e11"]


class FakePublisher:
    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.entries: list[dict[str, Any]] = []

    def publish(self, entries: Sequence[dict[str, Any]]) -> list[int]:
        self.entries.extend(entries)
        return [
            index
            for index, entry in enumerate(entries)
            if json.loads(entry["Detail"])["event_id"] in self.failing
        ]


def test_the_handler_answers_the_records_whose_events_failed_as_batch_item_failures() -> None:
    bounce, failure, success = (
        stored(name)
        for name in (
            "seed_bounces_user_unknown",
            "seed_deliveries_failed_user_unknown",
            "seed_deliveries_succeeded",
        )
    )
    fake = FakePublisher(failing={failure["event_id"]})
    settings = PublisherSettings(event_bus_name="bus")
    handler = make_handler(lambda: PublisherDependencies(settings=settings, publisher=fake))
    records = [
        {**stream_record(item), "dynamodb": {**stream_record(item)["dynamodb"], "SequenceNumber": str(n)}}
        for n, item in enumerate((bounce, failure, success), start=1)
    ]

    answer = handler({"Records": records}, LocalLambdaContext())

    assert answer == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert [entry["DetailType"] for entry in fake.entries] == ["Email Bounced", "Email Delivery Failed"]
    assert {entry["EventBusName"] for entry in fake.entries} == {"bus"}
