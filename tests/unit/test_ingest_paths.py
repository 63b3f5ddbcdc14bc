"""The two ways a webhook is validated give the same items.

A webhook whose records are all valid and of a known type is validated with its envelope in one
pass over the JSON text (`read_webhook` -> `checked`); any other is validated record by record
from the document. Items, ids and counts must not depend on which path a webhook took.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmc_webhooks.logic import ingest
from cmc_webhooks.logic.ingest import Batch, Webhook, build_batch, read_webhook, validated_records_come_sorted
from cmc_webhooks.models.cmc import RECORD_TYPES
from tests.conftest import SEED_FIXTURES, load_fixture
from tests.unit.test_identity_canonical import reference_key
from tests.unit.test_ingest import RECEIVED, TOKYO

texts = st.text(max_size=12)
created = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S")
)
message_ids = st.from_regex(r"\A<?[a-z0-9.-]{1,12}@[a-zA-Z.]{1,8}>?\Z")
addresses = st.from_regex(r"\A[a-zA-Z0-9.]{1,8}@[a-zA-Z.]{1,8}\Z")
# Any field CMC might add one day, with a value of any JSON type (kept in `extra`).
extras = st.dictionaries(
    st.sampled_from(["newField", "zzz", "Queue", "tag"]),
    texts | st.integers() | st.booleans() | st.none(),
    max_size=2,
)


@st.composite
def records(draw: st.DrawFn, event_type: str) -> dict[str, Any]:
    v1 = draw(st.booleans())
    record: dict[str, Any] = {
        "created": draw(created),
        "messageId": draw(message_ids),
        "envelopeTo" if v1 else "to": draw(addresses),
        "status": draw(
            st.sampled_from(["queued", "succeeded", "failed", "deferred"])
            if event_type == "deliveries"
            else st.from_regex(r"\A\d{1,3}\Z")
        ),
    }
    optional = ["envelopeFrom"] if v1 else ["from", "returnPath", "apiData"]
    optional += ["reason", "subject"] + (["senderIp", "sourceIp"] if event_type == "deliveries" else [])
    for name in draw(st.lists(st.sampled_from(optional), unique=True)):
        record[name] = draw(texts | st.just("550 5.1.1 <x@example.jp>: user unknown"))
    record.update(draw(extras))
    keys = draw(st.permutations(list(record)))  # CMC's key order is not ours to rely on
    return {key: record[key] for key in keys}


@st.composite
def webhooks(draw: st.DrawFn) -> dict[str, Any]:
    event_type = draw(st.sampled_from(["deliveries", "bounces"]))
    return {
        "event_type": event_type,
        "server_composition": draw(st.sampled_from(["pro", "", "サーバ"])),
        "event": {event_type: draw(st.lists(records(event_type), min_size=1, max_size=5))},
    }


def by_record(document: dict[str, Any]) -> Batch:
    return build_batch(Webhook(document=document), options=TOKYO, received_at=RECEIVED)


def in_one_pass(text: str) -> Batch:
    webhook = read_webhook(text)
    assert webhook.checked is not None, "a webhook of valid records must be validated in one pass"
    return build_batch(webhook, options=TOKYO, received_at=RECEIVED)


@settings(max_examples=300)
@given(webhooks())
def test_a_valid_webhook_gives_the_same_items_either_way(document: dict[str, Any]) -> None:
    one_pass = in_one_pass(json.dumps(document, ensure_ascii=False))
    assert one_pass.items == by_record(document).items
    assert one_pass.summary() == by_record(document).summary()
    # The ids are those of the records as sent (not of the validated dicts both paths share).
    [(event_type, sent)] = document["event"].items()
    composition = document["server_composition"]
    assert {item["event_id"] for item in one_pass.items} == {
        reference_key(event_type, composition, record)[0] for record in sent
    }


def test_the_seed_webhooks_are_validated_in_one_pass_with_the_same_items() -> None:
    for name in SEED_FIXTURES:
        document = load_fixture(name)
        assert in_one_pass(json.dumps(document)).items == by_record(document).items


def test_a_webhook_with_an_invalid_record_is_validated_record_by_record() -> None:
    document = load_fixture("seed_deliveries_queued")
    document["event"]["deliveries"].append({**document["event"]["deliveries"][0], "status": "exploded"})
    webhook = read_webhook(json.dumps(document))
    assert webhook.checked is None
    batch = build_batch(webhook, options=TOKYO, received_at=RECEIVED)
    assert (batch.written, batch.quarantined) == (1, 1)


def test_a_record_without_a_recipient_is_quarantined_with_the_field_named() -> None:
    document = load_fixture("seed_deliveries_queued")
    del document["event"]["deliveries"][0]["to"]
    [item] = build_batch(read_webhook(json.dumps(document)), options=TOKYO, received_at=RECEIVED).items
    assert item["kind"] == "quarantine"
    assert item["error"].startswith("to: Field required")


def test_duplicate_keys_and_escapes_read_as_json_loads_reads_them() -> None:
    # The one-pass parser and json.loads must agree on the same text: the last duplicate key wins,
    # and escapes decode the same; a lone surrogate (which only json.loads takes) goes record by record.
    record = (
        '{"created":"2023-01-25 14:00:00","messageId":"<a@example.com>","to":"a@example.com",'
        '"status":"queued","status":"failed","subject":"\\u30c6\\u30b9\\u30c8 \\"q\\""}'
    )
    text = '{"event_type":"bounces","event":{"deliveries":[' + record + ']},"event_type":"deliveries"}'
    webhook = read_webhook(text)
    assert webhook.checked is not None
    one_pass = build_batch(webhook, options=TOKYO, received_at=RECEIVED)
    assert one_pass.items == by_record(json.loads(text)).items
    surrogate = read_webhook(text.replace("\\u30c6", "\\ud800"))
    assert surrogate.checked is None
    assert surrogate.document == json.loads(text.replace("\\u30c6", "\\ud800"))


def test_the_record_types_declare_their_fields_in_canonical_order() -> None:
    # The one-pass path hashes a validated record without sorting it: pydantic returns its keys in
    # declaration order, so a field added out of order would change the ids of every record having it.
    for record_type in RECORD_TYPES.values():
        fields = list(record_type.__annotations__)
        assert fields == sorted(fields), record_type.__name__


def test_a_v1_name_beside_its_v2_one_is_kept_as_an_extra_field_either_way() -> None:
    # The v2 name is used; the v1 one it stands for is not, and is kept like any unmapped field.
    document = load_fixture("seed_deliveries_queued")
    record = document["event"]["deliveries"][0]
    v1_names = {"envelopeTo": "v1@example.jp", "envelopeFrom": "v1-sender@example.jp"}
    record.update(v1_names)
    one_pass, per_record = in_one_pass(json.dumps(document)), by_record(document)
    assert one_pass.items == per_record.items
    [item] = one_pass.items
    assert item["recipient"] == record["to"]
    assert json.loads(item["extra"]) == v1_names
    assert one_pass.with_unknown_fields == 1
    assert item["event_id"] == reference_key("deliveries", "pro", record)[0]


def test_this_pydantic_returns_validated_records_in_declaration_order() -> None:
    assert validated_records_come_sorted()


def test_ids_stay_the_same_on_a_pydantic_that_keeps_the_order_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    # The check falls back to sorting: the ids must not depend on which pydantic the Lambda runs.
    document = load_fixture("seed_deliveries_queued")
    expected = in_one_pass(json.dumps(document)).items
    monkeypatch.setattr(ingest, "validated_records_come_sorted", lambda: False)
    assert in_one_pass(json.dumps(document)).items == expected
