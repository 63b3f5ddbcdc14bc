"""The webhook use case with fakes for the store and the credentials: what is stored, and when nothing is."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from cmc_webhooks.dal.credentials import StaticCredentials
from cmc_webhooks.errors import InvalidEnvelope, PayloadTooLarge, StorageUnavailable, Unauthorized
from cmc_webhooks.logic.auth import CredentialSet
from cmc_webhooks.logic.ingest import IngestOptions
from cmc_webhooks.logic.receive import (
    Received,
    SpilledWebhook,
    WebhookRequest,
    WebhookSpill,
    ingest_spilled,
    receive_webhook,
)
from cmc_webhooks.models.store import StoredItem
from cmc_webhooks.settings import parse_time_zone
from tests.conftest import fixture_text

OPTIONS = IngestOptions(time_zone=parse_time_zone("Asia/Tokyo"), retention=timedelta(days=1), max_records=10)
KEYED = StaticCredentials(CredentialSet(api_key="k-1"))
RECEIVED_AT = datetime(2026, 1, 1, tzinfo=UTC)


class FakeStore:
    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.items: list[StoredItem] = []

    def write(self, items: Sequence[StoredItem]) -> None:
        if self.fail:
            raise StorageUnavailable("down")
        self.items.extend(items)


def receive(
    body: str,
    store: FakeStore,
    credentials: StaticCredentials = KEYED,
    max_body_bytes: int = 10_000,
    spill: WebhookSpill | None = None,
) -> Received:
    return receive_webhook(
        WebhookRequest(body=body, is_base64=False, content_type="application/json", authorization=None),
        store=store,
        credentials=credentials,
        options=OPTIONS,
        max_body_bytes=max_body_bytes,
        received_at=RECEIVED_AT,
        spill=spill,
    )


class FakeSpill:
    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.webhooks: list[SpilledWebhook] = []

    def spill(self, webhook: SpilledWebhook) -> None:
        if self.fail:
            raise StorageUnavailable("queue down")
        self.webhooks.append(webhook)


def with_key(name: str, api_key: str) -> str:
    return json.dumps({**json.loads(fixture_text(name)), "api_key": api_key})


def test_an_authenticated_webhook_is_stored_and_counted() -> None:
    store = FakeStore()
    batch = receive(with_key("batch_with_invalid_record", "k-1"), store).batch
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


def test_a_webhook_the_store_refuses_is_spilled_as_received_and_answered_queued() -> None:
    spill = FakeSpill()
    body = with_key("batch_with_invalid_record", "k-1")
    received = receive(body, FakeStore(fail=True), spill=spill)
    assert received.spilled
    assert received.summary() == {
        "received": 3,
        "written": 2,
        "duplicates": 0,
        "quarantined": 1,
        "unrecognized": 0,
        "queued": True,
    }
    assert spill.webhooks == [
        SpilledWebhook(
            body=body,
            is_base64=False,
            content_type="application/json",
            content_encoding=None,
            received_at=RECEIVED_AT,
        )
    ]


def test_a_stored_webhook_is_not_spilled_and_its_answer_says_nothing_of_a_queue() -> None:
    spill = FakeSpill()
    received = receive(with_key("seed_deliveries_queued", "k-1"), FakeStore(), spill=spill)
    assert not received.spilled
    assert "queued" not in received.summary()
    assert spill.webhooks == []


def test_only_authenticated_and_valid_webhooks_are_spilled() -> None:
    spill = FakeSpill()
    with pytest.raises(Unauthorized):
        receive(with_key("seed_deliveries_queued", "k-2"), FakeStore(fail=True), spill=spill)
    with pytest.raises(InvalidEnvelope):
        receive(json.dumps({"event_type": "deliveries", "api_key": "k-1"}), FakeStore(fail=True), spill=spill)
    assert spill.webhooks == []


def test_when_both_the_store_and_the_spill_refuse_the_request_fails() -> None:
    with pytest.raises(StorageUnavailable, match="queue down"):
        receive(with_key("seed_deliveries_queued", "k-1"), FakeStore(fail=True), spill=FakeSpill(fail=True))


def test_a_spilled_webhook_is_ingested_into_exactly_the_items_a_direct_write_stores() -> None:
    spill, direct, drained = FakeSpill(), FakeStore(), FakeStore()
    body = with_key("batch_with_invalid_record", "k-1")
    receive(body, FakeStore(fail=True), spill=spill)
    receive(body, direct)
    batch = ingest_spilled(spill.webhooks[0], store=drained, options=OPTIONS)
    assert drained.items == direct.items
    assert batch.summary()["written"] == 2


def test_a_spilled_webhook_the_store_still_refuses_fails_the_drain() -> None:
    webhook = SpilledWebhook(
        body=with_key("seed_deliveries_queued", "k-1"),
        is_base64=False,
        content_type="application/json",
        content_encoding=None,
        received_at=RECEIVED_AT,
    )
    with pytest.raises(StorageUnavailable):
        ingest_spilled(webhook, store=FakeStore(fail=True), options=OPTIONS)
