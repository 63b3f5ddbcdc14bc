"""The spill drain handler with a fake store: each message is one webhook; a refused one fails alone."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cmc_dev.lambda_context import LocalLambdaContext
from cmc_webhooks.dal.spill import SpillReader, from_message, to_message
from cmc_webhooks.errors import StorageUnavailable
from cmc_webhooks.handlers.spill_drain import DrainDependencies, make_handler
from cmc_webhooks.logic.ingest import IngestOptions
from cmc_webhooks.logic.receive import SpilledWebhook
from cmc_webhooks.models.store import StoredItem
from cmc_webhooks.settings import parse_time_zone
from tests.conftest import fixture_text

OPTIONS = IngestOptions(time_zone=parse_time_zone("Asia/Tokyo"), retention=timedelta(days=1), max_records=10)
RECEIVED_AT = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)


class RefusingSome:
    """Stores every batch but those holding an item of the refused message."""

    def __init__(self, refused_message_id: str | None = None) -> None:
        self.refused = refused_message_id
        self.items: list[StoredItem] = []

    def write(self, items: Sequence[StoredItem]) -> None:
        if any(item["message_id"] == self.refused for item in items):
            raise StorageUnavailable("still throttled")
        self.items.extend(items)


def webhook(fixture: str) -> SpilledWebhook:
    return SpilledWebhook(
        body=fixture_text(fixture),
        is_base64=False,
        content_type="application/json; charset=utf-8",
        content_encoding=None,
        received_at=RECEIVED_AT,
    )


def sqs_event(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m-{n}",
                "receiptHandle": f"r-{n}",
                "body": body,
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:ap-northeast-1:000000000000:spill",
                "awsRegion": "ap-northeast-1",
            }
            for n, body in enumerate(bodies)
        ]
    }


def drain(store: RefusingSome, *bodies: str) -> dict[str, Any]:
    deps = DrainDependencies(store=store, reader=SpillReader(), options=OPTIONS)
    return make_handler(lambda: deps)(sqs_event(*bodies), LocalLambdaContext())


def test_a_message_round_trips_every_field_and_is_ascii_only() -> None:
    original = SpilledWebhook(
        body='{"subject": "件名 \ud800"}',
        is_base64=True,
        content_type=None,
        content_encoding="identity",
        received_at=RECEIVED_AT,
    )
    message = to_message(original)
    assert message.isascii()
    assert from_message(message) == original


def test_drained_webhooks_are_stored_with_the_time_they_were_received() -> None:
    store = RefusingSome()
    answer = drain(
        store, to_message(webhook("seed_deliveries_queued")), to_message(webhook("seed_bounces_user_unknown"))
    )
    assert answer == {"batchItemFailures": []}
    assert store.items
    assert {item["received_at"] for item in store.items} == {"2026-01-01T09:30:00.000Z"}


def test_a_webhook_the_table_still_refuses_fails_only_its_own_message() -> None:
    refused = json.loads(fixture_text("seed_bounces_user_unknown"))
    refused_id = next(iter(refused["event"].values()))[0]["messageId"].strip("<>")
    store = RefusingSome(refused_id)
    answer = drain(
        store, to_message(webhook("seed_deliveries_queued")), to_message(webhook("seed_bounces_user_unknown"))
    )
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert store.items
    assert all(item["message_id"] != refused_id for item in store.items)
