"""The baselines the ingest handler is measured against (what the vendor samples do).

- `floor_handler`: the least a Lambda can do with a webhook: `json`, one boto3 client, one `PutItem`.
- `naive_handler`: a receiver as CMC's samples write it: parse, then one `PutItem` per record.

Both take the table's name as an argument: reading it through the settings model would import pydantic,
which the floor does not need.
"""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3

from cmc_webhooks import contract

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@cache
def _client() -> DynamoDBClient:
    return boto3.client("dynamodb")


def _records(event: dict[str, Any]) -> list[dict[str, Any]]:
    document = json.loads(event["body"])
    records: list[dict[str, Any]] = document["event"][document["event_type"]]
    return records


def _item(record: dict[str, Any]) -> dict[str, Any]:
    """The record as it came, every non-empty field an attribute: as much data as our items hold."""
    item = {name: {"S": str(value)} for name, value in record.items() if value != ""}
    item[contract.PARTITION_KEY] = {"S": record["messageId"].strip("<>")}
    item[contract.SORT_KEY] = {"S": f"NAIVE#{record['created']}#{record['status']}"}
    item[contract.RECIPIENT_INDEX_PARTITION_KEY] = {"S": record["to"]}
    return item


def _reply(count: int) -> dict[str, Any]:
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"received": count}),
    }


def floor_handler(event: dict[str, Any], table_name: str) -> dict[str, Any]:
    records = _records(event)
    _client().put_item(TableName=table_name, Item=_item(records[0]))
    return _reply(len(records))


def naive_handler(event: dict[str, Any], table_name: str) -> dict[str, Any]:
    records = _records(event)
    for record in records:
        _client().put_item(TableName=table_name, Item=_item(record))
    return _reply(len(records))
