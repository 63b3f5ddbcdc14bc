"""The local spill: what the stack's spill queue, bucket and drain event source are in AWS, on moto.

`running_spill` creates the queue (with its dead-letter queue after MAX_RECEIVE_COUNT receives, as
deployed) and the bucket, points the API function at them (CMC_SPILL_QUEUE_URL, CMC_SPILL_BUCKET_NAME)
and runs `SpillPoller`, which hands the queue's messages to the real drain handler in the event shape
Lambda's SQS event source uses, deleting what it drained; a failed message is received again after
the (short, local) visibility timeout.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cmc_dev.backend import LOCAL_REGION, LocalBackend
from cmc_dev.environment import variable
from cmc_dev.lambda_context import LocalLambdaContext
from cmc_webhooks import contract
from cmc_webhooks.settings import IngestSettings

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

LOCAL_NAME = "cmc-webhooks-local"
# Seconds before a message the drain failed on is handed out again (6 minutes in AWS).
LOCAL_VISIBILITY_TIMEOUT = 1
LOCAL_MAXIMUM_MESSAGE_SIZE = 256 * 1024
Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class LocalSpill:
    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    bucket_name: str


def create_spill(
    backend: LocalBackend, *, name: str = LOCAL_NAME, visibility_timeout: int = LOCAL_VISIBILITY_TIMEOUT
) -> LocalSpill:
    sqs, s3 = backend.client("sqs"), backend.client("s3")
    dead_letters = sqs.create_queue(QueueName=f"{name}-spill-dlq")["QueueUrl"]
    dead_letter_arn = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    redrive = {
        "deadLetterTargetArn": dead_letter_arn,
        "maxReceiveCount": str(contract.SPILL_MAX_RECEIVE_COUNT),
    }
    queue = sqs.create_queue(
        QueueName=f"{name}-spill",
        Attributes={
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": json.dumps(redrive),
            # The size dal/spill.py keeps messages under (moto's default is SQS's 1 MiB).
            "MaximumMessageSize": str(LOCAL_MAXIMUM_MESSAGE_SIZE),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    bucket = f"{name}-spill"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": LOCAL_REGION})
    return LocalSpill(queue, queue_arn, dead_letters, bucket)


class SpillPoller(threading.Thread):
    def __init__(
        self, backend: LocalBackend, handler: Handler, spill: LocalSpill, *, interval: float = 0.1
    ) -> None:
        super().__init__(name="spill-poller", daemon=True)
        self.handler, self.spill, self.interval = handler, spill, interval
        self.sqs: SQSClient = backend.client("sqs")
        self.stopped = threading.Event()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)

    def run(self) -> None:
        while not self.stopped.is_set():
            if not self.poll_once(wait_seconds=1):  # long polling, as the event source does
                self.stopped.wait(self.interval)

    def pending(self) -> int:
        """Messages in the spill queue, visible or being drained."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.spill.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def poll_once(self, wait_seconds: int = 0) -> bool:
        """One receive; True if it got any message."""
        messages = self.sqs.receive_message(
            QueueUrl=self.spill.queue_url,
            WaitTimeSeconds=wait_seconds,
            MaxNumberOfMessages=contract.SPILL_BATCH_SIZE,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return False
        records: list[dict[str, Any]] = [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": self.spill.queue_arn,
                "awsRegion": LOCAL_REGION,
            }
            for message in messages
        ]
        try:
            response = self.handler({"Records": records}, LocalLambdaContext()) or {}
            failed = {failure["itemIdentifier"] for failure in response.get("batchItemFailures", [])}
        except Exception:  # Lambda treats a raised error as the whole batch failing
            failed = {record["messageId"] for record in records}
        done = [record for record in records if record["messageId"] not in failed]
        if done:  # what the event source does with the messages the function drained
            self.sqs.delete_message_batch(
                QueueUrl=self.spill.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(done)],
            )
        return True


@contextmanager
def running_spill(
    backend: LocalBackend,
    *,
    env: MutableMapping[str, str],
    visibility_timeout: int = LOCAL_VISIBILITY_TIMEOUT,
) -> Iterator[tuple[LocalSpill, SpillPoller]]:
    """The queue, the bucket, the API function's variables naming them, and the poller feeding the drain."""
    spill = create_spill(backend, visibility_timeout=visibility_timeout)
    env[variable(IngestSettings, "spill_queue_url")] = spill.queue_url
    env[variable(IngestSettings, "spill_bucket_name")] = spill.bucket_name
    # Imported once the environment is set: Powertools reads it when the module loads.
    from cmc_webhooks.handlers import spill_drain  # noqa: PLC0415

    poller = SpillPoller(backend, spill_drain.lambda_handler, spill)
    poller.start()
    try:
        yield spill, poller
    finally:
        poller.stop()
