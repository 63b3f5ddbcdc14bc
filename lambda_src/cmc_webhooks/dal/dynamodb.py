"""DynamoDB adapter of the event store.

A webhook of N records costs ceil(N/25) BatchWriteItem calls, sent concurrently (a large webhook is
answered in the time of one call, not forty), and no reads. Items are idempotent (content-derived
keys), so retrying a whole request is safe.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cmc_webhooks import contract
from cmc_webhooks.dal.backoff import jittered_backoff
from cmc_webhooks.errors import StorageUnavailable
from cmc_webhooks.logic.identity import normalize_address
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
# A write gives up after this long, though its calls may still be retrying: the API function (25 s
# timeout) then still has the time to spill the webhook (docs/reliability.md) and answer. What the
# abandoned calls still store is stored again, unchanged, by the drain.
WRITE_BUDGET_SECONDS = 10.0

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


def _keyed(partition: str, value: str, sort: str, condition: str, bound: str | None) -> dict[str, Any]:
    """A query of one partition; with `bound`, `condition` (on #sk and :sk) narrows it."""
    query: dict[str, Any] = {
        "KeyConditionExpression": "#pk = :pk",
        "ExpressionAttributeNames": {"#pk": partition},
        "ExpressionAttributeValues": {":pk": {"S": value}},
    }
    if bound is not None and condition:
        query["KeyConditionExpression"] += f" AND {condition}"
        query["ExpressionAttributeNames"]["#sk"] = sort
        query["ExpressionAttributeValues"][":sk"] = {"S": bound}
    return query


def _group_after(partition: str, value: str, sort: str, after: str) -> dict[str, Any]:
    """The sort keys from `after` to the end of its recipient's group (`<...>#`: every key of the group
    sorts below the group with `$`, the character after `#`). `after` itself comes back too."""
    query = _keyed(partition, value, sort, "#sk BETWEEN :sk AND :end", after)
    query["ExpressionAttributeValues"][":end"] = {"S": recipient_group(after)[:-1] + "$"}
    return query


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
        write_budget: float = WRITE_BUDGET_SECONDS,
    ) -> None:
        self.table_name = table_name
        self._client = client
        self._sleep = sleep
        self._write_budget = write_budget

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
        deadline = time.monotonic() + self._write_budget
        futures = [self._executor.submit(self._write_chunk, chunk, deadline) for chunk in chunks]
        done, pending = wait(futures, timeout=self._write_budget, return_when=FIRST_EXCEPTION)
        for future in done:
            future.result()  # re-raises a chunk's failure
        if pending:
            raise StorageUnavailable(f"the event store took longer than {self._write_budget:g} s; try again")

    def _write_chunk(self, chunk: Sequence[StoredItem], deadline: float) -> None:
        requests: list[Any] = [{"PutRequest": {"Item": serialize(item)}} for item in chunk]
        for attempt in range(UNPROCESSED_ATTEMPTS):
            if time.monotonic() > deadline:
                break
            try:
                response = self.client.batch_write_item(RequestItems={self.table_name: requests})
            except (ClientError, BotoCoreError) as exc:
                raise StorageUnavailable("the event store refused the write; try again") from exc
            requests = list(response.get("UnprocessedItems", {}).get(self.table_name, []))
            if not requests:
                return
            self._sleep(jittered_backoff(attempt, base=BACKOFF_BASE_SECONDS, cap=BACKOFF_CAP_SECONDS))
        raise StorageUnavailable(f"{len(requests)} items stayed unprocessed after retries; try again")

    # Pages resume by key condition (the sort key after the last one read), not ExclusiveStartKey: the
    # same read in DynamoDB, and a cursor of one key.
    def message_page(self, message_id: str, *, after: str | None, limit: int) -> ItemPage:
        if after is None:
            condition, value = "begins_with(#sk, :sk)", contract.EVENT_SORT_KEY_PREFIX
        else:  # a message's partition holds only events
            condition, value = "#sk > :sk", after
        return self._page(
            limit, **_keyed(contract.PARTITION_KEY, message_id, contract.SORT_KEY, condition, value)
        )

    def message_group_rest(self, message_id: str, after: str) -> list[StoredItem]:
        query = _group_after(contract.PARTITION_KEY, message_id, contract.SORT_KEY, after)
        found = self._query(**projected(query, STATUS_ATTRIBUTES))
        return [
            item
            for item in found
            if item["sk"] != after and recipient_group(item["sk"]) == recipient_group(after)
        ]

    def recipient_page(self, recipient_key: str, *, after: str | None, limit: int) -> ItemPage:
        query = _keyed(
            contract.RECIPIENT_INDEX_PARTITION_KEY, recipient_key, contract.SORT_KEY, "#sk < :sk", after
        )
        return self._page(limit, IndexName=contract.RECIPIENT_INDEX, ScanIndexForward=False, **query)

    def recipient_all(self, recipient_key: str) -> list[StoredItem]:
        query = _keyed(contract.RECIPIENT_INDEX_PARTITION_KEY, recipient_key, contract.SORT_KEY, "", None)
        return self._query(IndexName=contract.RECIPIENT_INDEX, **projected(query, SUPPRESSION_ATTRIBUTES))

    def api_data_page(self, key: str, *, after: str | None, limit: int) -> ItemPage:
        query = _keyed(
            contract.API_DATA_INDEX_PARTITION_KEY, key, contract.API_DATA_INDEX_SORT_KEY, "#sk > :sk", after
        )
        return self._page(limit, IndexName=contract.API_DATA_INDEX, **query)

    def api_data_group_rest(self, key: str, after: str) -> list[StoredItem]:
        query = _group_after(
            contract.API_DATA_INDEX_PARTITION_KEY, key, contract.API_DATA_INDEX_SORT_KEY, after
        )
        found = self._query(IndexName=contract.API_DATA_INDEX, **query)
        group = recipient_group(after)
        return [
            item
            for item in found
            if item["api_data_sk"] != after and recipient_group(item["api_data_sk"]) == group
        ]

    def _page(self, limit: int, **query: Any) -> ItemPage:
        """Up to `limit` items, in as many calls as DynamoDB's 1 MB a call takes, but no more once they
        hold a page's worth of bytes."""
        items: list[StoredItem] = []
        size = 0
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
