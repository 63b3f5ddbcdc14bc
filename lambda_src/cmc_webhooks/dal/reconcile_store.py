"""The event table as the reconciliation and the tracker's day counting use it (logic/reconcile.py,
logic/day_counts.py).

- `stored_keys`: BatchGetItem of up to 100 keys a call, projecting the sort key only;
- `day_counts`: one Query of a day's counter partition (a handful of small items);
- `add_day_counts`: one UpdateItem ADD per distinct (composition, day, status) of a stream batch;
- `write`: the webhook's own BatchWriteItem path (DynamoDBEventStore).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from cmc_webhooks import contract
from cmc_webhooks.dal.backoff import jittered_backoff
from cmc_webhooks.dal.dynamodb import (
    BACKOFF_BASE_SECONDS,
    BACKOFF_CAP_SECONDS,
    CLIENT_CONFIG,
    UNPROCESSED_ATTEMPTS,
    DynamoDBEventStore,
)
from cmc_webhooks.errors import StorageUnavailable
from cmc_webhooks.logic.day_counts import DayKey, day_partition
from cmc_webhooks.models.store import StoredItem

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

COUNT = contract.DAY_COUNT_ATTRIBUTE


class ReconcileTableStore:
    def __init__(
        self,
        table_name: str,
        *,
        client: DynamoDBClient | None = None,
        retention: timedelta = timedelta(days=400),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`retention`: how long a counter item is kept after its day (DynamoDB's TTL)."""
        self.table_name = table_name
        self._client = client
        self.retention = retention
        self._sleep = sleep
        self.events = DynamoDBEventStore(table_name, client=client, sleep=sleep)

    @cached_property
    def client(self) -> DynamoDBClient:
        return self._client or boto3.client("dynamodb", config=CLIENT_CONFIG)

    def write(self, items: Sequence[StoredItem]) -> None:
        if items:
            self.events.write(items)

    def stored_keys(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        limit = contract.BATCH_GET_LIMIT
        for start in range(0, len(keys), limit):
            found |= self._get_chunk(keys[start : start + limit])
        return found

    def _get_chunk(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        pk, sk = contract.PARTITION_KEY, contract.SORT_KEY
        request: Any = {
            "Keys": [{pk: {"S": partition}, sk: {"S": sort}} for partition, sort in keys],
            "ProjectionExpression": "#pk, #sk",
            "ExpressionAttributeNames": {"#pk": pk, "#sk": sk},
        }
        found: set[tuple[str, str]] = set()
        for attempt in range(UNPROCESSED_ATTEMPTS):
            try:
                response = self.client.batch_get_item(RequestItems={self.table_name: request})
            except (ClientError, BotoCoreError) as exc:
                raise StorageUnavailable("the event store could not be read; try again") from exc
            for item in response.get("Responses", {}).get(self.table_name, []):
                found.add((str(item[pk]["S"]), str(item[sk]["S"])))
            unprocessed = response.get("UnprocessedKeys", {}).get(self.table_name)
            if not unprocessed or not unprocessed.get("Keys"):
                return found
            request["Keys"] = unprocessed["Keys"]
            self._sleep(jittered_backoff(attempt, base=BACKOFF_BASE_SECONDS, cap=BACKOFF_CAP_SECONDS))
        raise StorageUnavailable("keys stayed unprocessed after retries; try again")

    def day_counts(self, server_composition: str, day: date) -> dict[str, int]:
        try:
            response = self.client.query(
                TableName=self.table_name,
                KeyConditionExpression="#pk = :pk",
                ExpressionAttributeNames={"#pk": contract.PARTITION_KEY},
                ExpressionAttributeValues={":pk": {"S": day_partition(server_composition, day)}},
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable("the day's counters could not be read; try again") from exc
        prefix = contract.DAY_COUNT_SORT_KEY_PREFIX
        return {
            str(item[contract.SORT_KEY]["S"]).removeprefix(prefix): int(item[COUNT]["N"])
            for item in response.get("Items", [])
            if COUNT in item
        }

    def add_day_counts(self, counts: dict[DayKey, int]) -> None:
        for (server_composition, day, status), count in sorted(counts.items()):
            expires = datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(days=1) + self.retention
            try:
                self.client.update_item(
                    TableName=self.table_name,
                    Key={
                        contract.PARTITION_KEY: {"S": day_partition(server_composition, day)},
                        contract.SORT_KEY: {"S": contract.DAY_COUNT_SORT_KEY_PREFIX + status},
                    },
                    UpdateExpression="ADD #count :n SET #ttl = :ttl",
                    ExpressionAttributeNames={"#count": COUNT, "#ttl": contract.TTL_ATTRIBUTE},
                    ExpressionAttributeValues={
                        ":n": {"N": str(count)},
                        ":ttl": {"N": str(int(expires.timestamp()))},
                    },
                )
            except (ClientError, BotoCoreError) as exc:
                raise StorageUnavailable("a day counter could not be updated") from exc
