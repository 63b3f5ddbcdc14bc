"""The webhook use case with fakes for the store and the credentials: what is stored, and when nothing is."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from cmc_webhooks.dal.credentials import StaticCredentials
from cmc_webhooks.errors import InvalidEnvelope, PayloadTooLarge, StorageUnavailable, Unauthorized
from cmc_webhooks.logic.auth import CredentialSet
from cmc_webhooks.logic.ingest import Batch, IngestOptions
from cmc_webhooks.logic.receive import WebhookRequest, receive_webhook
from cmc_webhooks.models.store import StoredItem
from cmc_webhooks.settings import parse_time_zone
from tests.conftest import fixture_text

OPTIONS = IngestOptions(time_zone=parse_time_zone("Asia/Tokyo"), retention=timedelta(days=1), max_records=10)
KEYED = StaticCredentials(CredentialSet(api_key="k-1"))


class FakeStore:
    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.items: list[StoredItem] = []

    def write(self, items: Sequence[StoredItem]) -> None:
        if self.fail:
            raise StorageUnavailable("down")
        self.items.extend(items)


def receive(
    body: str, store: FakeStore, credentials: StaticCredentials = KEYED, max_body_bytes: int = 10_000
) -> Batch:
    return receive_webhook(
        WebhookRequest(body=body, is_base64=False, content_type="application/json", authorization=None),
        store=store,
        credentials=credentials,
        options=OPTIONS,
        max_body_bytes=max_body_bytes,
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def with_key(name: str, api_key: str) -> str:
    return json.dumps({**json.loads(fixture_text(name)), "api_key": api_key})


def test_an_authenticated_webhook_is_stored_and_counted() -> None:
    store = FakeStore()
    batch = receive(with_key("batch_with_invalid_record", "k-1"), store)
    assert batch.summary() == {
        "received": 3,
        "written": 2,
        "duplicates": 0,
        "quarantined": 1,
        "unrecognized": 0,
    }
    assert [item["kind"] for item in store.items].count("quarantine") == 1
    assert batch.event_type == "deliveries"


def test_a_wrong_key_stores_nothing() -> None:
    store = FakeStore()
    with pytest.raises(Unauthorized):
        receive(with_key("seed_deliveries_queued", "k-2"), store)
    assert store.items == []


def test_only_an_authenticated_sender_learns_what_is_wrong_with_its_body() -> None:
    with pytest.raises(Unauthorized):
        receive("not json", FakeStore())
    with pytest.raises(InvalidEnvelope):
        receive("not json", FakeStore(), credentials=StaticCredentials(CredentialSet()))


def test_a_broken_envelope_stores_nothing() -> None:
    store = FakeStore()
    with pytest.raises(InvalidEnvelope, match="event"):
        receive(json.dumps({"event_type": "deliveries", "api_key": "k-1"}), store)
    assert store.items == []


def test_a_body_over_the_limit_is_refused_before_it_is_read() -> None:
    with pytest.raises(PayloadTooLarge):
        receive(with_key("seed_deliveries_queued", "k-1"), FakeStore(), max_body_bytes=100)


def test_a_store_that_refuses_the_write_fails_the_request() -> None:
    with pytest.raises(StorageUnavailable):
        receive(with_key("seed_deliveries_queued", "k-1"), FakeStore(fail=True))
