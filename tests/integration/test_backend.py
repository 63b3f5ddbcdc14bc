"""The loopback backend: what it exports reaches it, and it keeps and refuses items as DynamoDB does."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from cmc_dev.backend import LocalBackend
from cmc_webhooks import contract
from cmc_webhooks.settings import IngestSettings

DYNAMODB_ITEM_LIMIT = 400 * 1024  # DynamoDB's documented item size limit


def test_its_environment_points_a_plain_client_and_the_settings_at_its_table(
    backend: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in backend.environment().items():
        monkeypatch.setenv(name, value)
    settings = IngestSettings.from_env(backend.environment())
    client = boto3.client("dynamodb")  # region, credentials and endpoint from the environment alone

    table = client.describe_table(TableName=settings.table_name)["Table"]
    ttl = client.describe_time_to_live(TableName=settings.table_name)["TimeToLiveDescription"]

    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert {index["IndexName"] for index in table["GlobalSecondaryIndexes"]} == {
        contract.RECIPIENT_INDEX,
        contract.SUPPRESSED_INDEX,
        contract.API_DATA_INDEX,
    }
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", contract.TTL_ATTRIBUTE)


def item_of_size(total: int) -> dict[str, Any]:
    """An item of about `total` bytes (names and values in UTF-8), in 20 attributes."""
    names = [f"a{n:02d}" for n in range(20)]
    return {
        contract.PARTITION_KEY: {"S": "m"},
        contract.SORT_KEY: {"S": "s"},
        **{name: {"S": "x" * (total // len(names))} for name in names},
    }


def test_an_item_under_400_kb_is_kept_and_one_over_it_refused(backend: LocalBackend) -> None:
    client = backend.dynamodb()
    key = {contract.PARTITION_KEY: {"S": "m"}, contract.SORT_KEY: {"S": "s"}}
    under = item_of_size(DYNAMODB_ITEM_LIMIT - 20_000)

    client.put_item(TableName=backend.table_name, Item=under)
    assert client.get_item(TableName=backend.table_name, Key=key)["Item"] == under
    client.delete_item(TableName=backend.table_name, Key=key)

    with pytest.raises(ClientError) as refused:
        client.put_item(TableName=backend.table_name, Item=item_of_size(DYNAMODB_ITEM_LIMIT + 1_000))
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "Item" not in client.get_item(TableName=backend.table_name, Key=key)
