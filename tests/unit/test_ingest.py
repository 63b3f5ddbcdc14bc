from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmc_webhooks.errors import InvalidEnvelope, TooManyRecords
from cmc_webhooks.logic.ingest import Batch, IngestOptions, build_batch, parse_envelope
from cmc_webhooks.settings import parse_time_zone
from tests.conftest import SEED_FIXTURES, load_fixture

RECEIVED = datetime(2026, 11, 26, 6, 0, 0, tzinfo=UTC)
TOKYO = IngestOptions(time_zone=parse_time_zone("Asia/Tokyo"), retention=timedelta(days=30), max_records=5000)


def build(document: dict[str, Any], options: IngestOptions = TOKYO) -> Batch:
    return build_batch(parse_envelope(document), options=options, received_at=RECEIVED)


def records(document: dict[str, Any]) -> list[dict[str, Any]]:
    event_type = document["event_type"]
    return list(document["event"][event_type])


def delivery(n: int, **changes: str) -> dict[str, str]:
    record = copy.deepcopy(records(load_fixture("seed_deliveries_succeeded"))[0])
    record["messageId"] = f"<m-{n}@example.com>"
    record.update(changes)
    return record


def deliveries(*items: Any) -> dict[str, Any]:
    return {"event_type": "deliveries", "server_composition": "pro", "event": {"deliveries": list(items)}}


@pytest.mark.parametrize("name", SEED_FIXTURES)
def test_every_seed_payload_becomes_one_event_of_its_message(name: str) -> None:
    document = load_fixture(name)
    record = records(document)[0]

    batch = build(document)

    assert batch.summary() == {
        "received": 1,
        "written": 1,
        "duplicates": 0,
        "quarantined": 0,
        "unrecognized": 0,
    }
    [item] = batch.items
    assert item["message_id"] == record["messageId"][1:-1]
    assert item["message_id_raw"] == record["messageId"]
    assert item["recipient"] == record["to"]
    assert item["event_type"] == document["event_type"]
    assert item["server_composition"] == "pro"
    assert item["data_version"] == 2
    assert item["sk"].startswith("EVENT#")
    assert item["expires_at"] == int((RECEIVED + timedelta(days=30)).timestamp())
    assert item.get("reason", "") == record["reason"]
    assert item["subject"] == record["subject"]


def test_created_is_read_in_the_configured_zone_and_keyed_in_utc() -> None:
    document = load_fixture("seed_deliveries_queued")  # created 2023-01-25 14:03:06

    [tokyo] = build(document).items
    utc_options = IngestOptions(time_zone=parse_time_zone("UTC"), retention=timedelta(days=1), max_records=10)
    [utc] = build(document, utc_options).items
    new_york = IngestOptions(
        time_zone=parse_time_zone("America/New_York"), retention=timedelta(days=1), max_records=10
    )
    [ny] = build(document, new_york).items

    assert tokyo["occurred_at"] == "2023-01-25T14:03:06+09:00"
    assert tokyo["sk"].startswith("EVENT#user@example.jp#2023-01-25T05:03:06Z#")
    assert utc["occurred_at"] == "2023-01-25T14:03:06+00:00"
    assert ny["occurred_at"] == "2023-01-25T14:03:06-05:00"
    assert ny["sk"].startswith("EVENT#user@example.jp#2023-01-25T19:03:06Z#")


def test_a_bounce_record_makes_the_status_bounced_and_keeps_its_code() -> None:
    [item] = build(load_fixture("seed_bounces_user_unknown")).items
    assert item["status"] == "bounced"
    assert item["bounce_code"] == "2"
    assert item["reason"].startswith("550 5.1.1")


def test_v1_records_map_envelope_fields() -> None:
    batch = build(load_fixture("v1_deliveries"))

    assert [item["status"] for item in batch.items] == ["queued", "deferred"]
    first = batch.items[0]
    assert first["data_version"] == 1
    assert first["recipient"] == "user@Example.JP"
    assert first["recipient_key"] == "user@example.jp"
    assert first["return_path"] == "info@return.sandbox.smtps.jp"
    assert first["server_composition"] == "sandbox"
    assert "api_data" not in first


def test_the_same_record_gets_the_same_key_however_often_and_wherever_it_is_posted() -> None:
    record = delivery(1)
    once = build(deliveries(record))
    twice_in_one = build(deliveries(record, copy.deepcopy(record)))
    other_order = build(deliveries(dict(reversed(list(record.items())))))

    assert twice_in_one.summary()["written"] == 1
    assert twice_in_one.summary()["duplicates"] == 1
    assert once.items[0]["sk"] == twice_in_one.items[0]["sk"] == other_order.items[0]["sk"]


def test_different_statuses_of_one_message_are_different_events() -> None:
    batch = build(deliveries(delivery(1, status="queued"), delivery(1, status="succeeded")))
    assert batch.written == 2
    assert len({item["sk"] for item in batch.items}) == 2


def test_an_invalid_record_is_quarantined_and_the_rest_stored() -> None:
    batch = build(load_fixture("batch_with_invalid_record"))

    assert batch.summary() == {
        "received": 3,
        "written": 2,
        "duplicates": 0,
        "quarantined": 1,
        "unrecognized": 0,
    }
    quarantined = [item for item in batch.items if item["kind"] == "quarantine"]
    [q] = quarantined
    assert q["message_id"] == "quarantine#2026-11-26"
    assert "created" in q["error"]
    assert json.loads(q["raw"])["messageId"] == "<bad-2@example.com>"
    # the error names the field, never the value (which may be personal data)
    assert "yesterday" not in q["error"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "exploded"}, "status"),
        ({"created": "2023-02-30 10:00:00"}, "created"),
        ({"to": ""}, "to"),
        ({"messageId": None}, "messageId"),
        ({"messageId": "<>"}, "messageId"),
    ],
)
def test_records_that_fail_validation_are_quarantined_with_the_field_named(
    change: dict[str, Any], field: str
) -> None:
    batch = build(deliveries(delivery(1), delivery(2, **change)))
    assert batch.written == 1
    assert batch.quarantined == 1
    assert field in next(item["error"] for item in batch.items if item["kind"] == "quarantine")


def test_a_record_that_is_not_an_object_is_quarantined() -> None:
    batch = build(deliveries(delivery(1), "just a string", 42))
    assert (batch.written, batch.quarantined) == (1, 2)


def test_an_unknown_event_type_is_kept_raw_under_its_message() -> None:
    document = load_fixture("blocks")
    batch = build(document)

    assert batch.summary()["unrecognized"] == 1
    assert batch.summary()["written"] == 1
    [item] = batch.items
    assert item["event_type"] == "blocks"
    assert item["message_id"] == "blk-0001@example.com"
    assert item["status"] == "10"  # as sent: never mapped onto a delivery status
    assert json.loads(item["raw"]) == records(document)[0]
    assert item["recipient_key"] == "blocked@example.jp"


def test_an_unknown_event_type_without_message_id_goes_to_quarantine() -> None:
    document = {"event_type": "blocks", "event": {"blocks": [{"to": "a@example.com"}]}}
    batch = build(document)
    assert (batch.unrecognized, batch.quarantined, batch.written) == (1, 1, 0)


def test_unknown_extra_fields_are_kept_and_counted() -> None:
    batch = build(deliveries(delivery(1, newField="x", another="y")))
    [item] = batch.items
    assert json.loads(item["extra"]) == {"newField": "x", "another": "y"}
    assert batch.with_unknown_fields == 1


def test_several_event_types_in_one_document_are_all_kept() -> None:
    document = deliveries(delivery(1))
    document["event"]["bounces"] = records(load_fixture("seed_bounces_user_unknown"))
    batch = build(document)
    assert sorted(item["event_type"] for item in batch.items) == ["bounces", "deliveries"]


def test_a_thousand_records_are_all_built() -> None:
    batch = build(deliveries(*(delivery(n) for n in range(1000))))
    assert batch.written == 1000
    assert len({(item["message_id"], item["sk"]) for item in batch.items}) == 1000


def test_more_records_than_the_limit_is_refused() -> None:
    options = IngestOptions(time_zone=parse_time_zone("+09:00"), retention=timedelta(days=1), max_records=2)
    with pytest.raises(TooManyRecords, match="3 records"):
        build(deliveries(delivery(1), delivery(2), delivery(3)), options)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"event_type": "deliveries"}, "no `event`"),
        ({"event_type": "deliveries", "event": "x"}, "must be an object"),
        ({"event_type": "deliveries", "event": {}}, "empty"),
        ({"event_type": "deliveries", "event": {"deliveries": "x"}}, "must be an array"),
        ({"event": {"deliveries": []}}, "event_type"),
        ({"event_type": "", "event": {"deliveries": []}}, "event_type"),
    ],
)
def test_a_broken_envelope_is_refused_with_the_problem_named(document: dict[str, Any], expected: str) -> None:
    with pytest.raises(InvalidEnvelope, match=expected):
        build(document)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
record_like = st.fixed_dictionaries(
    {},
    optional={
        "created": st.sampled_from(["2023-01-25 14:03:06", "2023-13-01 00:00:00", "x"])
        | st.text(max_size=19),
        "messageId": st.sampled_from(["<a@b>", "<>", ""]) | st.text(max_size=10),
        "to": st.sampled_from(["u@example.jp", ""]) | st.integers(),
        "status": st.sampled_from(["queued", "failed", "2", "x"]) | json_values,
        "from": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(
    event_type=st.sampled_from(["deliveries", "bounces", "blocks"]) | st.text(max_size=8),
    items=st.lists(record_like | json_values, max_size=6),
)
def test_any_records_are_stored_or_quarantined_and_none_are_lost(event_type: str, items: list[Any]) -> None:
    document = {"event_type": event_type or "x", "event": {event_type or "x": items}}
    try:
        batch = build(document)
    except InvalidEnvelope:
        return  # the only refusal a record list can cause here (the limit is far away)
    assert batch.received == len(items)
    assert batch.received == batch.written + batch.quarantined + batch.duplicates
    assert len({(item["message_id"], item["sk"]) for item in batch.items}) == len(batch.items)


def test_bounces_and_failures_are_classified_and_successes_are_not() -> None:
    [bounce] = build(load_fixture("seed_bounces_user_unknown")).items
    assert (bounce["bounce_type"], bounce["bounce_category"]) == ("hard", "user_unknown")
    assert (bounce["smtp_code"], bounce["enhanced_status"]) == ("550", "5.1.1")
    assert "@" not in bounce["diagnostic"]
    [failed] = build(load_fixture("seed_deliveries_failed_user_unknown")).items
    assert failed["bounce_category"] == "user_unknown"
    [succeeded] = build(load_fixture("seed_deliveries_succeeded")).items
    assert "bounce_type" not in succeeded
    [blocked] = build(load_fixture("blocks")).items
    assert blocked["bounce_category"] == "suppressed"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"messageId": "<" + "m" * 3000 + "@example.com>"}, "messageId: String should have at most 998"),
        ({"messageId": "<" + "め" * 900 + "@example.com>"}, "messageId: longer than 2048 bytes"),
        ({"to": "u" * 3000 + "@example.jp"}, "to: String should have at most 998"),
        ({"to": "め" * 900 + "@example.jp"}, "to: longer than 2048 bytes"),
        ({"to": "   "}, "to: empty once spaces are removed"),
        ({"reason": "550 " + "x" * 500_000}, "reason: String should have at most 20000 characters"),
        ({"subject": "件" * 10_001}, "subject: String should have at most 10000 characters"),
        ({"unknown": "x" * 50_001}, "unknown fields are longer than 50000 characters"),
    ],
)
def test_a_record_dynamodb_would_refuse_is_quarantined_instead_of_sinking_the_batch(
    change: dict[str, str], problem: str
) -> None:
    batch = build(deliveries(delivery(1), delivery(2, **change)))
    assert (batch.written, batch.quarantined) == (1, 1)
    [quarantined] = [item for item in batch.items if item["kind"] == "quarantine"]
    assert problem in quarantined["error"]
    assert len(quarantined["raw"]) <= 90_000


def test_an_event_at_every_bound_fits_in_an_item() -> None:
    # Every known field at its longest, in characters of 4 UTF-8 bytes, and unknown fields at theirs.
    widest = "\U0001f600"
    largest = delivery(
        1,
        messageId="<" + widest * 500 + ">",
        to=widest * 500,
        **{name: widest * 998 for name in ("from", "returnPath", "apiData")},
        subject=widest * 10_000,
        reason=widest * 20_000,
        senderIp=widest * 64,
        sourceIp=widest * 64,
    )
    largest["unknown"] = "x" * 49_980
    batch = build(deliveries(largest))
    [item] = batch.items
    assert item["kind"] == "event"
    texts = [value for value in item.values() if isinstance(value, str)]
    assert sum(map(len, item)) + len("".join(texts).encode()) + 21 * (len(item) - len(texts)) < 390_000


@pytest.mark.parametrize("created", ["0001-01-01 00:00:00", "9999-12-31 23:59:59"])
def test_a_time_that_overflows_in_utc_quarantines_its_record_only(created: str) -> None:
    options = IngestOptions(time_zone=parse_time_zone("-05:00"), retention=timedelta(days=1), max_records=10)
    tokyo_first = IngestOptions(
        time_zone=parse_time_zone("+09:00"), retention=timedelta(days=1), max_records=10
    )
    for chosen in (options, tokyo_first):
        batch = build(deliveries(delivery(1, created=created), delivery(2)), chosen)
        assert batch.written + batch.quarantined == 2
        assert batch.written >= 1


def test_lone_surrogates_are_replaced_and_the_item_says_so() -> None:
    batch = build(deliveries(delivery(1, subject="bad \ud800 text"), delivery(2, **{"x\udfff": "y"})))

    assert batch.summary()["written"] == 2
    first, second = batch.items
    assert first["subject"] == "bad \ufffd text"
    assert first["repaired"] == "lone surrogates replaced by U+FFFD"
    assert "\ufffd" in second["extra"]
    for item in batch.items:
        for value in item.values():
            if isinstance(value, str):
                value.encode("utf-8")  # every stored string is valid UTF-8


@pytest.mark.parametrize(
    ("field", "value"),
    [("server_composition", "x" * 129), ("event_type", "x" * 129)],
)
def test_envelope_fields_are_bounded(field: str, value: str) -> None:
    with pytest.raises(InvalidEnvelope, match=field):
        build({**deliveries(delivery(1)), field: value})


def test_an_event_type_key_is_bounded() -> None:
    with pytest.raises(InvalidEnvelope, match="event type must be 1 to 128 characters"):
        build({"event_type": "deliveries", "event": {"x" * 400_000: [delivery(1)]}})


def test_a_huge_unknown_record_is_quarantined_truncated_with_its_length_and_hash() -> None:
    record = {"messageId": "<m@x>", "blob": "ß" * 300_000}
    batch = build({"event_type": "opens", "event": {"opens": [record], "deliveries": [delivery(1)]}})

    assert (batch.written, batch.quarantined, batch.unrecognized) == (1, 1, 1)
    [quarantined] = [item for item in batch.items if item["kind"] == "quarantine"]
    raw = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    assert quarantined["raw_chars"] == len(raw)
    assert len(quarantined["raw"]) < len(raw)
    assert quarantined["raw_sha256"] == hashlib.sha256(raw.encode()).hexdigest()
    assert "truncated" in quarantined["error"]
