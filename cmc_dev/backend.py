"""The embedded AWS backend for local runs and tests: moto's server on loopback.

boto3 talks real HTTP to it; the table is created from the same contract module the CDK
stack uses, so local and deployed tables have the same keys and index.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from moto.server import ThreadedMotoServer

from cmc_dev.environment import variable
from cmc_webhooks import contract
from cmc_webhooks.settings import IngestSettings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import ProjectionTypeDef

LOCAL_REGION = "ap-northeast-1"
LOCAL_TABLE_NAME = "cmc-webhooks-local-events"
LOCAL_INBOUND_BUCKET = "cmc-webhooks-local-inbound"


@dataclass(frozen=True)
class LocalBackend:
    endpoint_url: str
    table_name: str
    inbound_bucket: str = LOCAL_INBOUND_BUCKET

    def environment(self) -> dict[str, str]:
        """What the function and boto3 need to use this backend instead of AWS."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_REGION": LOCAL_REGION,
            # Current botocore would otherwise build account-based DynamoDB endpoints.
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            variable(IngestSettings, "table_name"): self.table_name,
            variable(IngestSettings, "inbound_bucket_name"): self.inbound_bucket,
        }

    def dynamodb(self) -> DynamoDBClient:
        client: DynamoDBClient = self.client("dynamodb")
        return client

    def client(self, service: str) -> Any:
        """A boto3 client of this backend, whatever the environment says (moto takes any credentials)."""
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint_url,
            region_name=LOCAL_REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )


def recipient_projection(recipient_index: str) -> ProjectionTypeDef:
    """The recipient index's projection as infra/event_store.py declares it for the stage's setting."""
    if recipient_index == contract.RECIPIENT_INDEX_ALL:
        return {"ProjectionType": "ALL"}
    return {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(contract.SUPPRESSION_INDEX_ATTRIBUTES)}


def create_event_table(
    client: DynamoDBClient, table_name: str, *, recipient_index: str = contract.RECIPIENT_INDEX_ALL
) -> None:
    """The event table as infra/ declares it: keys, recipient index (what it projects: `recipient_index`,
    the function's CMC_RECIPIENT_INDEX), the apiData index, stream, TTL."""
    client.create_table(
        TableName=table_name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": contract.PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": contract.SORT_KEY, "AttributeType": "S"},
            {"AttributeName": contract.RECIPIENT_INDEX_PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": contract.SUPPRESSED_INDEX_PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": contract.SUPPRESSED_INDEX_SORT_KEY, "AttributeType": "S"},
            {"AttributeName": contract.API_DATA_INDEX_PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": contract.API_DATA_INDEX_SORT_KEY, "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": contract.PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": contract.SORT_KEY, "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": contract.RECIPIENT_INDEX,
                "KeySchema": [
                    {"AttributeName": contract.RECIPIENT_INDEX_PARTITION_KEY, "KeyType": "HASH"},
                    {"AttributeName": contract.RECIPIENT_INDEX_SORT_KEY, "KeyType": "RANGE"},
                ],
                "Projection": recipient_projection(recipient_index),
            },
            {
                "IndexName": contract.SUPPRESSED_INDEX,
                "KeySchema": [
                    {"AttributeName": contract.SUPPRESSED_INDEX_PARTITION_KEY, "KeyType": "HASH"},
                    {"AttributeName": contract.SUPPRESSED_INDEX_SORT_KEY, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": contract.API_DATA_INDEX,
                "KeySchema": [
                    {"AttributeName": contract.API_DATA_INDEX_PARTITION_KEY, "KeyType": "HASH"},
                    {"AttributeName": contract.API_DATA_INDEX_SORT_KEY, "KeyType": "RANGE"},
                ],
                "Projection": {
                    "ProjectionType": "INCLUDE",
                    "NonKeyAttributes": list(contract.API_DATA_INDEX_PROJECTION),
                },
            },
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    client.get_waiter("table_exists").wait(TableName=table_name)
    client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": contract.TTL_ATTRIBUTE},
    )


def create_inbound_bucket(client: Any, bucket: str) -> None:
    """The inbound mail bucket (infra/inbound_mail.py), in the backend's region. Backends started in one
    process share moto's state: a bucket an earlier one created is this one's."""
    with suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": LOCAL_REGION})


@contextmanager
def running_backend(
    *,
    table_name: str = LOCAL_TABLE_NAME,
    port: int = 0,
    env: MutableMapping[str, str] | None = None,
    recipient_index: str = contract.RECIPIENT_INDEX_ALL,
) -> Iterator[LocalBackend]:
    """moto on 127.0.0.1 (a free port unless given), with the event table, exported into `env`."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        host, bound_port = server.get_host_and_port()
        backend = LocalBackend(endpoint_url=f"http://{host}:{bound_port}", table_name=table_name)
        target = os.environ if env is None else env
        target.update(backend.environment())
        create_event_table(backend.dynamodb(), table_name, recipient_index=recipient_index)
        create_inbound_bucket(backend.client("s3"), backend.inbound_bucket)
        yield backend
    finally:
        server.stop()
