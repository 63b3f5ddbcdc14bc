"""Inbound mail's adapters: its item in the event table, its objects in the inbound bucket.

A mail costs one GetItem (already stored?), at most a few one-item Queries (does the table hold the
events of the message it answers?), one PutObject per object, sent concurrently, and one conditional
PutItem. Clients are built on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cmc_webhooks import contract
from cmc_webhooks.dal.dynamodb import AttributeValue, from_attribute
from cmc_webhooks.errors import StorageUnavailable
from cmc_webhooks.models.inbound import InboundItem, MailObject

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

S3_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=2,
    read_timeout=10,
    max_pool_connections=16,
    signature_version="s3v4",
)
MAX_PARALLEL_PUTS = 16


def is_inbound_image(image: dict[str, AttributeValue]) -> bool:
    """Whether a stream record's image is an inbound mail's item."""
    return image.get(contract.SORT_KEY, {}).get("S") == contract.INBOUND_SORT_KEY


def inbound_item(image: dict[str, AttributeValue]) -> InboundItem:
    return cast(InboundItem, {name: from_attribute(value) for name, value in image.items()})


def _serialize(item: InboundItem) -> dict[str, AttributeValue]:
    return {
        name: {"N": str(value)} if isinstance(value, int) else {"S": value} for name, value in item.items()
    }


def _key(inbound_id: str) -> dict[str, AttributeValue]:
    return {
        contract.PARTITION_KEY: {"S": contract.INBOUND_PARTITION_PREFIX + inbound_id},
        contract.SORT_KEY: {"S": contract.INBOUND_SORT_KEY},
    }


class DynamoDBInboundStore:
    def __init__(self, table_name: str, *, client: Callable[[], DynamoDBClient]) -> None:
        """`client`: the event store's (one client per function, built on first use)."""
        self.table_name = table_name
        self._client = client

    def get_inbound(self, inbound_id: str) -> InboundItem | None:
        try:
            response = self._client().get_item(
                TableName=self.table_name, Key=_key(inbound_id), ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable("the event store could not be read; try again") from exc
        raw = response.get("Item")
        return inbound_item(cast(dict[str, AttributeValue], raw)) if raw else None

    def put_inbound(self, item: InboundItem) -> bool:
        try:
            self._client().put_item(
                TableName=self.table_name,
                Item=_serialize(item),
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": contract.PARTITION_KEY},
            )
        except ClientError as exc:
            if exc.response["Error"].get("Code") == "ConditionalCheckFailedException":
                return False  # the same mail, stored by a concurrent request
            raise StorageUnavailable("the event store refused the write; try again") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable("the event store refused the write; try again") from exc
        return True

    def has_events(self, message_id: str) -> bool:
        """One Query on the message's partition, one item at most: by its partition key only."""
        try:
            response = self._client().query(
                TableName=self.table_name,
                KeyConditionExpression="#pk = :pk",
                ExpressionAttributeNames={"#pk": contract.PARTITION_KEY},
                ExpressionAttributeValues={":pk": {"S": message_id}},
                ProjectionExpression="#pk",
                Limit=1,
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable("the event store could not be read; try again") from exc
        return bool(response.get("Items"))


class S3MailObjects:
    def __init__(self, bucket: str, *, client: Any = None) -> None:
        self.bucket = bucket
        self._client = client

    @cached_property
    def client(self) -> S3Client:
        # The endpoint comes from the standard AWS_ENDPOINT_URL(_S3) when set (local runs).
        client: S3Client = self._client or boto3.client("s3", config=S3_CLIENT_CONFIG)
        return client

    @cached_property
    def _executor(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=MAX_PARALLEL_PUTS, thread_name_prefix="s3-put")

    def put_objects(self, objects: Sequence[MailObject]) -> None:
        _ = self.client  # build the client once, before the threads share it
        list(self._executor.map(self._put, objects))  # waits for all, re-raises the first failure

    def _put(self, mail_object: MailObject) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=mail_object.key,
                Body=mail_object.data,
                ContentType=mail_object.content_type,
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable("the inbound bucket refused a write; try again") from exc

    def presign(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        params: dict[str, str] = {"Bucket": self.bucket, "Key": key}
        if filename is not None:
            params["ResponseContentDisposition"] = f"attachment; filename*=UTF-8''{quote(filename, safe='')}"
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
