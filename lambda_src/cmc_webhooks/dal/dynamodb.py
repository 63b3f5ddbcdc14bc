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
from cmc_webhooks.logic.identity import normalize_address
from cmc_webhooks.models.store import StoredItem

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
    if "recipient" in item and "recipient_key" not in item:  # kept out of a sparse recipient index
        item["recipient_key"] = normalize_address(item["recipient"])
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

    def message_events(self, message_id: str) -> list[StoredItem]:
        return self._query(
            KeyConditionExpression="#pk = :pk AND begins_with(#sk, :prefix)",
            ExpressionAttributeNames={"#pk": contract.PARTITION_KEY, "#sk": contract.SORT_KEY},
            ExpressionAttributeValues={
                ":pk": {"S": message_id},
                ":prefix": {"S": contract.EVENT_SORT_KEY_PREFIX},
            },
        )

    def recipient_events(self, recipient_key: str, *, limit: int) -> list[StoredItem]:
        return self._query(
            IndexName=contract.RECIPIENT_INDEX,
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": contract.RECIPIENT_INDEX_PARTITION_KEY},
            ExpressionAttributeValues={":pk": {"S": recipient_key}},
            ScanIndexForward=False,
            PaginationConfig={"MaxItems": limit},
        )

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
