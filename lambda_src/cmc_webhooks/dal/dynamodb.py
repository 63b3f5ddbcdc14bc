"""DynamoDB adapter of the event store.

A webhook of N records costs ceil(N/25) BatchWriteItem calls, sent concurrently (a large webhook is
answered in the time of one call, not forty), and no reads. Items are idempotent (content-derived
keys), so retrying a whole request is safe.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cmc_webhooks import contract
from cmc_webhooks.errors import StorageUnavailable
from cmc_webhooks.logic.lookup import ItemPage
from cmc_webhooks.models.store import StoredItem, recipient_group

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# botocore retries throttling and 5xx of each call (standard mode, with backoff); we retry
# what a successful call hands back as UnprocessedItems.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=2,
    read_timeout=5,
    max_pool_connections=16,
    # Our requests are built from typed items and DynamoDB validates them again; botocore's own check
    # walks every attribute of every item: a third of the client's CPU for a BatchWriteItem of 25 items
    # (16 ms against 11 ms per 100 items here), billed as the function's duration.
    parameter_validation=False,
)
MAX_PARALLEL_BATCHES = 16
UNPROCESSED_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 2.0

AttributeValue = dict[str, Any]


# What a recipient's current status, and its suppression, are derived from (logic/status.py,
# logic/suppression.py): the rest of a recipient cut at a page's end, a recipient's whole history.
STATUS_ATTRIBUTES = ("message_id", "sk", "event_type", "status", "occurred_at", "recipient", "recipient_key")
SUPPRESSION_ATTRIBUTES = (*STATUS_ATTRIBUTES, "bounce_type", "bounce_category")


def projected(query: dict[str, Any], attributes: Sequence[str]) -> dict[str, Any]:
    """`query` returning only `attributes` (named by placeholders: `status` is a reserved word)."""
    names = {f"#p{number}": name for number, name in enumerate(attributes)}
    return {
        **query,
        "ProjectionExpression": ", ".join(names),
        "ExpressionAttributeNames": {**query["ExpressionAttributeNames"], **names},
    }


def _api_data_start(key: str, after: tuple[str, str, str]) -> dict[str, AttributeValue]:
    return {
        contract.API_DATA_INDEX_PARTITION_KEY: {"S": key},
        contract.API_DATA_INDEX_SORT_KEY: {"S": after[0]},
        contract.PARTITION_KEY: {"S": after[1]},
        contract.SORT_KEY: {"S": after[2]},
    }


def from_attribute(value: AttributeValue) -> str | int:
    return int(value["N"]) if "N" in value else cast(str, value["S"])


# What the sort key already says is not stored again: its prefix is the item's kind, its last part the
# event id (docs/data-model.md).
DERIVED_FROM_SORT_KEY = frozenset({"kind", "event_id"})


def serialize(item: StoredItem) -> dict[str, AttributeValue]:
    # Strings and integers are all an item holds.
    return {
        name: {"N": str(value)} if isinstance(value, int) else {"S": value}
        for name, value in item.items()
        if name not in DERIVED_FROM_SORT_KEY
    }


def deserialize(raw: dict[str, AttributeValue]) -> StoredItem:
    item = cast(StoredItem, {name: from_attribute(value) for name, value in raw.items()})
    sort_key = item["sk"]
    item["kind"] = "event" if sort_key.startswith(contract.EVENT_SORT_KEY_PREFIX) else "quarantine"
    item["event_id"] = sort_key.rpartition("#")[2]
    return item


class DynamoDBEventStore:
    def __init__(
        self,
        table_name: str,
        *,
        client: DynamoDBClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table_name = table_name
        self._client = client
        self._sleep = sleep

    @cached_property
    def client(self) -> DynamoDBClient:
        # Built on first use, not at import: cold starts that fail validation never pay for it.
        # The endpoint comes from the standard AWS_ENDPOINT_URL_DYNAMODB when set (local runs).
        return self._client or boto3.client("dynamodb", config=CLIENT_CONFIG)

    @cached_property
    def _executor(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=MAX_PARALLEL_BATCHES, thread_name_prefix="ddb-write")

    def write(self, items: Sequence[StoredItem]) -> None:
        limit = contract.BATCH_WRITE_LIMIT
        chunks = [items[start : start + limit] for start in range(0, len(items), limit)]
        _ = self.client  # build the client once, before the threads share it
        # list() waits for every chunk and re-raises the first failure.
        list(self._executor.map(self._write_chunk, chunks))

    def _write_chunk(self, chunk: Sequence[StoredItem]) -> None:
        requests: list[Any] = [{"PutRequest": {"Item": serialize(item)}} for item in chunk]
        for attempt in range(UNPROCESSED_ATTEMPTS):
            try:
                response = self.client.batch_write_item(RequestItems={self.table_name: requests})
            except (ClientError, BotoCoreError) as exc:
                raise StorageUnavailable("the event store refused the write; try again") from exc
            requests = list(response.get("UnprocessedItems", {}).get(self.table_name, []))
            if not requests:
                return
            backoff = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)
            self._sleep(random.uniform(backoff / 2, backoff))  # noqa: S311 - jitter, not crypto
        raise StorageUnavailable(f"{len(requests)} items stayed unprocessed after retries; try again")

    def message_page(self, message_id: str, *, after: str | None, limit: int) -> ItemPage:
        start = (
            None
            if after is None
            else {contract.PARTITION_KEY: {"S": message_id}, contract.SORT_KEY: {"S": after}}
        )
        return self._page(limit, start, **self._message_query(message_id, contract.EVENT_SORT_KEY_PREFIX))

    def message_group_rest(self, message_id: str, after: str) -> list[StoredItem]:
        group = recipient_group(after)
        found = self._query(
            ExclusiveStartKey={contract.PARTITION_KEY: {"S": message_id}, contract.SORT_KEY: {"S": after}},
            **projected(self._message_query(message_id, group), STATUS_ATTRIBUTES),
        )
        # Another recipient's key may begin with this one's and a `#`.
        return [item for item in found if recipient_group(item["sk"]) == group]

    @staticmethod
    def _message_query(message_id: str, prefix: str) -> dict[str, Any]:
        return {
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": {"#pk": contract.PARTITION_KEY, "#sk": contract.SORT_KEY},
            "ExpressionAttributeValues": {":pk": {"S": message_id}, ":prefix": {"S": prefix}},
        }

    def recipient_page(self, recipient_key: str, *, after: tuple[str, str] | None, limit: int) -> ItemPage:
        start = None
        if after is not None:
            start = {
                contract.RECIPIENT_INDEX_PARTITION_KEY: {"S": recipient_key},
                contract.SORT_KEY: {"S": after[0]},
                contract.PARTITION_KEY: {"S": after[1]},
            }
        return self._page(limit, start, ScanIndexForward=False, **self._recipient_query(recipient_key))

    def recipient_all(self, recipient_key: str) -> list[StoredItem]:
        return self._query(**projected(self._recipient_query(recipient_key), SUPPRESSION_ATTRIBUTES))

    @staticmethod
    def _recipient_query(recipient_key: str) -> dict[str, Any]:
        return {
            "IndexName": contract.RECIPIENT_INDEX,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": contract.RECIPIENT_INDEX_PARTITION_KEY},
            "ExpressionAttributeValues": {":pk": {"S": recipient_key}},
        }

    def api_data_page(self, key: str, *, after: tuple[str, str, str] | None, limit: int) -> ItemPage:
        start = None if after is None else _api_data_start(key, after)
        return self._page(limit, start, **self._api_data_query(key, ""))

    def api_data_group_rest(self, key: str, after: tuple[str, str, str]) -> list[StoredItem]:
        group = recipient_group(after[0])
        found = self._query(ExclusiveStartKey=_api_data_start(key, after), **self._api_data_query(key, group))
        return [
            item
            for item in found
            if recipient_group(item["api_data_sk"]) == group and item["message_id"] == after[1]
        ]

    @staticmethod
    def _api_data_query(key: str, prefix: str) -> dict[str, Any]:
        """One apiData's index entries; with `prefix`, those whose sort key begins with it."""
        query: dict[str, Any] = {
            "IndexName": contract.API_DATA_INDEX,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": contract.API_DATA_INDEX_PARTITION_KEY},
            "ExpressionAttributeValues": {":pk": {"S": key}},
        }
        if prefix:  # DynamoDB takes no empty string in a key condition
            query["KeyConditionExpression"] += " AND begins_with(#sk, :prefix)"
            query["ExpressionAttributeNames"]["#sk"] = contract.API_DATA_INDEX_SORT_KEY
            query["ExpressionAttributeValues"][":prefix"] = {"S": prefix}
        return query

    def _page(self, limit: int, start: dict[str, AttributeValue] | None, **query: Any) -> ItemPage:
        """Up to `limit` items from `start` on, in as many calls as DynamoDB's 1 MB a call takes, but no
        more once they hold a page's worth of bytes."""
        items: list[StoredItem] = []
        size = 0
        if start is not None:
            query["ExclusiveStartKey"] = start
        try:
            while True:
                response = self.client.query(TableName=self.table_name, Limit=limit - len(items), **query)
                for raw in response.get("Items", []):
                    item = cast(dict[str, AttributeValue], raw)
                    items.append(deserialize(item))
                    size += sum(len(name) + len(str(value)) for name, value in item.items())
                last = response.get("LastEvaluatedKey")
                if not last or len(items) >= limit or size >= contract.PAGE_MAX_BYTES:
                    return ItemPage(items, more=bool(last))
                query["ExclusiveStartKey"] = last
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable("the event store could not be read; try again") from exc

    def _query(self, **query: Any) -> list[StoredItem]:
        items: list[StoredItem] = []
        paginator = self.client.get_paginator("query")
        try:
            for page in paginator.paginate(TableName=self.table_name, **query):
                items.extend(
                    deserialize(cast(dict[str, AttributeValue], raw)) for raw in page.get("Items", [])
                )
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable("the event store could not be read; try again") from exc
        return items
