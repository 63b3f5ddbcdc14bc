"""The loopback backend keeps and refuses exactly the items moto does, checking an item's size once."""

from __future__ import annotations

from typing import Any, cast

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, Item

from cmc_dev.backend import MOTO_ITEM_INIT, MOTO_ITEM_SIZE_LIMIT, LocalBackend
from cmc_webhooks import contract

KEY_BYTES = len(contract.PARTITION_KEY) + 1 + len(contract.SORT_KEY) + 1  # the two key values are 1 byte


def item_of_size(total: int, *, attributes: int = 1) -> dict[str, Any]:
    """An item whose size, as moto counts it (names and values in UTF-8), is exactly `total`."""
    item: dict[str, Any] = {contract.PARTITION_KEY: {"S": "m"}, contract.SORT_KEY: {"S": "s"}}
    names = [f"a{n:03d}" for n in range(attributes)]
    remaining = total - KEY_BYTES - sum(len(name) for name in names)
    for index, name in enumerate(names):
        share = remaining // attributes + (1 if index < remaining % attributes else 0)
        item[name] = {"S": "x" * share}
    return item


@pytest.mark.parametrize("attributes", [1, 40])
def test_an_item_at_the_limit_is_kept_and_one_byte_more_is_refused(
    backend: LocalBackend, attributes: int
) -> None:
    client = backend.dynamodb()
    at_limit = item_of_size(MOTO_ITEM_SIZE_LIMIT, attributes=attributes)
    client.put_item(TableName=backend.table_name, Item=at_limit)
    key = {name: at_limit[name] for name in (contract.PARTITION_KEY, contract.SORT_KEY)}
    assert client.get_item(TableName=backend.table_name, Key=key)["Item"] == at_limit

    client.delete_item(TableName=backend.table_name, Key=key)
    with pytest.raises(ClientError) as refused:
        client.put_item(
            TableName=backend.table_name, Item=item_of_size(MOTO_ITEM_SIZE_LIMIT + 1, attributes=attributes)
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "size" in refused.value.response["Error"]["Message"]
    assert "Item" not in client.get_item(TableName=backend.table_name, Key=key)


attribute_values = st.one_of(
    st.builds(lambda text: {"S": text}, st.text(max_size=40)),
    st.builds(lambda number: {"N": str(number)}, st.integers()),
    st.builds(
        lambda strings: {"SS": strings}, st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=3)
    ),
)


def build(init: Any, attrs: dict[str, Any]) -> dict[str, Any] | str:
    item = cast(Item, Item.__new__(Item))
    try:
        init(item, DynamoType({"S": "m"}), DynamoType({"S": "s"}), attrs)
    except ItemSizeTooLarge:
        return "refused"
    return {name: value.to_json() for name, value in item.attrs.items()}


@settings(max_examples=200, deadline=None)
@given(
    attrs=st.dictionaries(st.text(min_size=1, max_size=8), attribute_values, max_size=30),
    padding=st.integers(min_value=MOTO_ITEM_SIZE_LIMIT - 600, max_value=MOTO_ITEM_SIZE_LIMIT + 50),
)
def test_the_same_items_are_kept_and_refused_as_with_motos_own_check(
    backend: LocalBackend, attrs: dict[str, Any], padding: int
) -> None:
    # `backend` has installed the single check; `Item.__init__` is it, MOTO_ITEM_INIT is moto's.
    assert Item.__init__ is not MOTO_ITEM_INIT
    attrs = {**attrs, "padding": {"S": "p" * (padding - sum(len(name) for name in attrs))}}

    assert build(Item.__init__, attrs) == build(MOTO_ITEM_INIT, attrs)
