"""The canonical JSON behind event ids is exactly `json.dumps(sort_keys, no spaces, UTF-8 as is)`:
the encoder built once (for speed) must never change an id already stored."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cmc_webhooks.logic.identity import canonical_json, event_id, record_key
from tests.conftest import load_fixture

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


def reference(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@given(json_values)
def test_canonical_json_is_json_dumps_with_sorted_keys_and_no_spaces(value: Any) -> None:
    assert canonical_json(value) == reference(value)


def reference_key(event_type: str, server_composition: str, record: Any) -> tuple[str, int]:
    canonical = reference([event_type, server_composition, record]).encode("utf-8", "surrogatepass")
    return hashlib.sha256(canonical).hexdigest()[:32], len(canonical)


# Flat string records take pydantic-core's encoder: the same bytes, so the same id, as the reference,
# for any text (control characters, non-BMP, lone surrogates, which that encoder refuses).
@given(st.dictionaries(st.text(), st.text(), max_size=12), st.text(), st.text())
def test_a_flat_string_record_has_the_reference_key(
    record: dict[str, str], kind: str, composition: str
) -> None:
    assert record_key(kind, composition, record) == reference_key(kind, composition, record)


@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_any_record_has_the_reference_key(record: dict[str, Any]) -> None:
    assert record_key("deliveries", "pro", record) == reference_key("deliveries", "pro", record)


def test_the_seed_record_keeps_the_event_id_it_had_whatever_its_key_order() -> None:
    # The id json.dumps gave this record before the encoder was built once (a stored item's key).
    record = load_fixture("seed_deliveries_queued")["event"]["deliveries"][0]
    reordered = dict(reversed(list(record.items())))
    assert event_id("deliveries", "pro", record) == "93ac08d43cb6d26132b049e560a84a0e"
    assert event_id("deliveries", "pro", reordered) == "93ac08d43cb6d26132b049e560a84a0e"
