"""SQS and S3 adapter of the spill: webhooks the event store refused, kept until the drain stores them.

A spilled webhook is one SQS message of JSON (ASCII only: `\\u` escapes keep every character SQS allows).
A message over SPILL_MESSAGE_MAX_BYTES goes to the spill bucket as an object instead, and the message
holds where (`s3_bucket`, `s3_key`); the bucket's lifecycle deletes it after the queue has let go of it.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cmc_webhooks.errors import StorageUnavailable
from cmc_webhooks.logic.receive import SpilledWebhook

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

# SQS takes messages of up to 1 MiB since August 2025, as moto does; it was 256 KiB before, which is
# still a queue's setting (MaximumMessageSize) wherever someone set it, and SQS bills each 64 KiB as a
# request. Inline only what a 256 KiB queue takes, with room to spare: `make local` creates its queue
# with that maximum, so the tests show no spilled message goes over it.
SPILL_MESSAGE_MAX_BYTES = 250_000
FORMAT_VERSION = 1
# The spill runs after DynamoDB's retries used part of the request's time: few, quick attempts.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)


def to_message(webhook: SpilledWebhook) -> str:
    return json.dumps(
        {
            "version": FORMAT_VERSION,
            "received_at": webhook.received_at.isoformat(),
            "body": webhook.body,
            "is_base64": webhook.is_base64,
            "content_type": webhook.content_type,
            "content_encoding": webhook.content_encoding,
        },
        separators=(",", ":"),
    )


def from_message(text: str | bytes) -> SpilledWebhook:
    data: dict[str, Any] = json.loads(text)
    return SpilledWebhook(
        body=data["body"],
        is_base64=bool(data["is_base64"]),
        content_type=data["content_type"],
        content_encoding=data["content_encoding"],
        received_at=datetime.fromisoformat(data["received_at"]),
    )


class SqsSpill:
    """The API function's side: send a webhook to the queue (through the bucket when it is large)."""

    def __init__(
        self,
        queue_url: str,
        bucket_name: str,
        *,
        sqs: SQSClient | None = None,
        s3: S3Client | None = None,
    ) -> None:
        self.queue_url, self.bucket_name = queue_url, bucket_name
        self._sqs, self._s3 = sqs, s3

    # Built on first use, not at import: most functions never spill.
    @cached_property
    def sqs(self) -> SQSClient:
        return self._sqs or boto3.client("sqs", config=CLIENT_CONFIG)

    @cached_property
    def s3(self) -> S3Client:
        return self._s3 or boto3.client("s3", config=CLIENT_CONFIG)

    def spill(self, webhook: SpilledWebhook) -> None:
        message = to_message(webhook)
        try:
            if len(message) > SPILL_MESSAGE_MAX_BYTES:  # ASCII: characters are bytes
                key = f"spilled/{webhook.received_at:%Y/%m/%d}/{uuid.uuid4()}.json"
                self.s3.put_object(
                    Bucket=self.bucket_name, Key=key, Body=message.encode(), ContentType="application/json"
                )
                message = json.dumps(
                    {"version": FORMAT_VERSION, "s3_bucket": self.bucket_name, "s3_key": key}
                )
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=message)
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable(
                "neither the event store nor the spill queue took the webhook; try again"
            ) from exc


class SpillReader:
    """The drain's side: a queue message back into the webhook, fetching it from the bucket if it is there."""

    def __init__(self, *, s3: S3Client | None = None) -> None:
        self._s3 = s3

    @cached_property
    def s3(self) -> S3Client:
        return self._s3 or boto3.client("s3", config=CLIENT_CONFIG)

    def webhook(self, message_body: str) -> SpilledWebhook:
        data = json.loads(message_body)
        if "s3_key" not in data:
            return from_message(message_body)
        try:
            stored = self.s3.get_object(Bucket=data["s3_bucket"], Key=data["s3_key"])
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable("the spilled webhook could not be read from its bucket") from exc
        return from_message(stored["Body"].read())
