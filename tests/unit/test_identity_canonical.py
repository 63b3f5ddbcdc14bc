"""The canonical JSON behind event ids is exactly `json.dumps(sort_keys, no spaces, UTF-8 as is)`:
the encoder built once (for speed) must never change an id already stored."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cmc_webhooks.logic.identity import canonical_json, event_id
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


def test_the_seed_record_keeps_the_event_id_it_had_whatever_its_key_order() -> None:
    # The id json.dumps gave this record before the encoder was built once (a stored item's key).
    record = load_fixture("seed_deliveries_queued")["event"]["deliveries"][0]
    reordered = dict(reversed(list(record.items())))
    assert event_id("deliveries", "pro", record) == "93ac08d43cb6d26132b049e560a84a0e"
    assert event_id("deliveries", "pro", reordered) == "93ac08d43cb6d26132b049e560a84a0e"
