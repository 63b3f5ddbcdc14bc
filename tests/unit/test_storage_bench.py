"""bench.storage's sizes follow DynamoDB's rules, on the items the ingest builds."""

from __future__ import annotations

from bench.storage import Cost, costs, index_entry, per_million, size
from cmc_webhooks import contract
from cmc_webhooks.settings import IngestTunables


def test_sizes_count_names_and_utf8_values_and_numbers_two_digits_a_byte() -> None:
    assert size({"subject": {"S": "テスト"}}) == len("subject") + 9
    assert size({"expires_at": {"N": "1796532083"}}) == len("expires_at") + 5 + 1
    assert size({"n": {"N": "100"}}) == 1 + 1 + 1  # trailing zeros are not significant


def test_the_sparse_entry_holds_the_keys_and_the_projected_attributes_only() -> None:
    attributes = {
        "message_id": {"S": "m@example.com"},
        "sk": {"S": "EVENT#x#y"},
        "recipient_key": {"S": "a@example.jp"},
        "status": {"S": "bounced"},
        "subject": {"S": "hello"},
    }
    assert index_entry(attributes, contract.RECIPIENT_INDEX_ALL) == attributes
    assert index_entry(attributes, contract.RECIPIENT_INDEX_SUPPRESSION) == {
        name: value for name, value in attributes.items() if name != "subject"
    }
    del attributes["recipient_key"]
    assert index_entry(attributes, contract.RECIPIENT_INDEX_ALL) is None


def test_an_item_under_a_kilobyte_costs_one_write_in_the_table_and_one_in_the_index() -> None:
    assert Cost(item_bytes=1000, entry_bytes=400, days=1).wru == 2
    assert Cost(item_bytes=1025, entry_bytes=0, days=1).wru == 2
    assert Cost(item_bytes=10, entry_bytes=0, days=1).stored_bytes == 110


def test_the_levers_cut_writes_and_what_is_kept() -> None:
    full = per_million(IngestTunables(retention_days=400))
    levers = per_million(
        IngestTunables(retention_days=400, clean_retention_days=45, recipient_index="suppression")
    )
    assert full["wru"] == 2_000_000  # every seed event is under a kilobyte, in the table and the index
    assert levers["wru"] < 0.8 * full["wru"]
    assert levers["kept_gb"] < 0.2 * full["kept_gb"]
    by_event = costs(IngestTunables(retention_days=400, recipient_index="suppression"))
    assert by_event["queued"].entry_bytes == 0
    assert 0 < by_event["bounced (hard)"].entry_bytes < by_event["bounced (hard)"].item_bytes
