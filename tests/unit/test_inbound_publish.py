"""`Email Received`: the stream filter, the detail (pointers, never bodies) and the publisher's hook."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from cmc_dev.fanout import matches
from cmc_dev.lambda_context import LocalLambdaContext
from cmc_webhooks import contract
from cmc_webhooks.handlers.publisher import PublisherDependencies, make_handler
from cmc_webhooks.models.inbound import InboundItem
from cmc_webhooks.settings import PublisherSettings
from tests.inbound_samples import BINARY, JAPANESE_FILENAME, JAPANESE_TEXT, fields, mail_headers, multipart
from tests.unit.test_inbound import FakeObjects, FakeStore, receive
from tests.unit.test_publish import stored, stream_record

SETTINGS = PublisherSettings(event_bus_name="bus", event_source="src")


def inbound_item(**header_extra: str) -> InboundItem:
    store, objects = FakeStore(), FakeObjects()
    files = [
        (JAPANESE_FILENAME, JAPANESE_TEXT, "text/plain"),
        ("data.bin", BINARY, "application/octet-stream"),
    ]
    body, content_type = multipart(fields(mail_headers(**header_extra)), files)
    result = receive(body, content_type, store, objects)
    return store.items[result.inbound_id]


def record(item: Any, sequence: str, event_name: str = "INSERT") -> dict[str, Any]:
    built = stream_record(item, event_name)
    return {**built, "dynamodb": {**built["dynamodb"], "SequenceNumber": sequence}}


class FakePublisher:
    def __init__(self, failing: Sequence[str] = ()) -> None:
        self.failing = set(failing)
        self.entries: list[dict[str, Any]] = []

    def publish(self, entries: Sequence[dict[str, Any]]) -> list[int]:
        self.entries.extend(entries)
        return [i for i, e in enumerate(entries) if json.loads(e["Detail"]).get("inbound_id") in self.failing]


def test_only_a_new_inbound_item_passes_the_stream_filter() -> None:
    item = inbound_item()
    patterns = contract.stream_filter_patterns(contract.DEFAULT_PUBLISHED_KINDS)

    assert any(matches(pattern, record(item, "1")) for pattern in patterns)
    assert not any(matches(pattern, record(item, "1", "MODIFY")) for pattern in patterns)  # a repeat post
    assert len(contract.stream_filter_patterns(contract.PUBLISHABLE_KINDS)) <= 5  # a mapping's limit


def test_the_publisher_sends_one_email_received_of_pointers_beside_the_bounces() -> None:
    mail, bounce = inbound_item(), stored("seed_bounces_user_unknown")
    fake = FakePublisher()
    handler = make_handler(lambda: PublisherDependencies(settings=SETTINGS, publisher=fake))

    answer = handler({"Records": [record(bounce, "1"), record(mail, "2")]}, LocalLambdaContext())

    assert answer == {"batchItemFailures": []}
    assert [entry["DetailType"] for entry in fake.entries] == ["Email Bounced", "Email Received"]
    received = fake.entries[1]
    assert (received["EventBusName"], received["Source"]) == ("bus", "src")
    detail = json.loads(received["Detail"])
    assert detail["schema_version"] == "1.0"
    assert detail["inbound_id"] == mail["inbound_id"]
    assert detail["kind"] == "reply"  # its subject starts with Re:
    assert detail["from"] == "山田太郎 <taro@example.jp>"
    assert detail["body"]["text"] == {"bucket": "inbound-bucket", "key": mail["text_key"]}
    assert [(a["filename"], a["size"]) for a in detail["attachments"]] == [
        (JAPANESE_FILENAME, len(JAPANESE_TEXT)),
        ("data.bin", len(BINARY)),
    ]
    assert "お世話" not in received["Detail"]  # pointers, never the bodies
    assert len(received["Detail"].encode()) < 4096


def test_a_failed_email_received_is_answered_as_its_records_failure() -> None:
    mail = inbound_item()
    fake = FakePublisher(failing=[mail["inbound_id"]])
    handler = make_handler(lambda: PublisherDependencies(settings=SETTINGS, publisher=fake))

    answer = handler({"Records": [record(mail, "7")]}, LocalLambdaContext())

    assert answer == {"batchItemFailures": [{"itemIdentifier": "7"}]}
