"""How records become keys: normalized ids, and an event id that is the same however the event is sent."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cmc_webhooks.logic.identity import canonical_json, content_id, normalize_address, normalize_message_id
from cmc_webhooks.logic.ingest import IngestOptions, build_batch, parse_envelope
from cmc_webhooks.settings import parse_time_zone
from tests.conftest import load_fixture

TOKYO = IngestOptions(time_zone=parse_time_zone("Asia/Tokyo"), retention=timedelta(days=30), max_records=10)


def event_id_of(document: dict[str, Any], *, received_at: datetime | None = None) -> str:
    batch = build_batch(
        parse_envelope(document), options=TOKYO, received_at=received_at or datetime(2026, 1, 1, tzinfo=UTC)
    )
    [item] = batch.items
    return item["event_id"]


def with_record(name: str, **changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(load_fixture(name))
    document["event"][document["event_type"]][0].update(changes)
    return document


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("<a@b.example>", "a@b.example"), ("a@b.example", "a@b.example"), (" <a@b> ", "a@b"), ("<a@b", "<a@b")],
)
def test_message_ids_lose_their_angle_brackets(raw: str, expected: str) -> None:
    assert normalize_message_id(raw) == expected


def test_addresses_compare_case_insensitively_in_the_domain_only() -> None:
    assert normalize_address(" User@Example.JP ") == "User@example.jp"
    assert normalize_address("no-at-sign") == "no-at-sign"


@pytest.mark.parametrize(
    "written", ["Taro <taro@Example.jp>", '"Yamada, Taro" <taro@example.jp>', "<taro@example.jp>"]
)
def test_an_address_with_a_display_name_is_the_address(written: str) -> None:
    assert normalize_address(written) == "taro@example.jp"


def test_content_ids_tell_apart_what_a_plain_join_would_not() -> None:
    assert content_id("ab", "c") != content_id("a", "bc")
    assert content_id("a", "") != content_id("a")
    assert content_id("x") == content_id("x")
    assert len(content_id("x")) == 32


def test_canonical_json_ignores_key_order() -> None:
    assert canonical_json({"a": 1, "b": "é"}) == canonical_json({"b": "é", "a": 1}) == '{"a":1,"b":"é"}'


# The keys of the seed's records, pinned: a change of the key scheme changes every stored id, so it
# must be deliberate (docs/data-model.md).
@pytest.mark.parametrize(
    ("name", "event_id"),
    [
        ("seed_deliveries_queued", "db74e8c6663dddacf789b2bc654a5de0"),
        ("seed_deliveries_succeeded", "4a737faf060013cc13202cc352b96a74"),
        ("seed_bounces_host_unknown", "a8fa385972ebe2d9651ea760fd24f058"),
        ("seed_deliveries_failed_user_unknown", "46e898b02ed88b6bccbac9927a0d2380"),
        ("seed_bounces_user_unknown", "b93b5358136e8489eac0554707c7a210"),
    ],
)
def test_the_seed_records_keep_their_event_ids(name: str, event_id: str) -> None:
    assert event_id_of(load_fixture(name)) == event_id


def test_the_same_event_has_the_same_id_however_it_is_sent() -> None:
    original = load_fixture("seed_deliveries_succeeded")
    record = original["event"]["deliveries"][0]
    baseline = event_id_of(original)

    # Received later, with brackets dropped, the domain in capitals, an unknown field, other header data.
    assert event_id_of(original, received_at=datetime(2027, 5, 5, tzinfo=UTC)) == baseline
    bare_id = record["messageId"][1:-1]
    assert event_id_of(with_record("seed_deliveries_succeeded", messageId=bare_id)) == baseline
    local, _, domain = record["to"].partition("@")
    assert event_id_of(with_record("seed_deliveries_succeeded", to=f"{local}@{domain.upper()}")) == baseline
    assert event_id_of(with_record("seed_deliveries_succeeded", newField="x")) == baseline
    assert event_id_of(with_record("seed_deliveries_succeeded", subject="other", apiData="x")) == baseline
    # Data format v1 names the same recipient `envelopeTo`.
    v1 = copy.deepcopy(original)
    v1_record = v1["event"]["deliveries"][0]
    v1_record["envelopeTo"] = v1_record.pop("to")
    v1_record["envelopeFrom"] = v1_record.pop("returnPath")
    assert event_id_of(v1) == baseline


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "failed"},
        {"created": "2023-01-25 14:03:10"},
        {"to": "someone-else@example.com"},
        {"reason": "421 try again later"},
        {"messageId": "<other@example.com>"},
    ],
)
def test_another_event_has_another_id(changes: dict[str, str]) -> None:
    baseline = event_id_of(load_fixture("seed_deliveries_succeeded"))
    assert event_id_of(with_record("seed_deliveries_succeeded", **changes)) != baseline


def test_the_server_composition_and_event_type_are_part_of_the_id() -> None:
    document = load_fixture("seed_deliveries_succeeded")
    baseline = event_id_of(document)
    assert event_id_of({**document, "server_composition": "other"}) != baseline
