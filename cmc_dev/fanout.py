"""Local fan-out: what Lambda's event source mapping and EventBridge do in AWS, on moto.

- `StreamPoller` reads the event table's stream, keeps only the records the mapping's filter
  would pass (the same patterns the stack deploys), and hands them to the same publisher
  handler in the event shape Lambda uses. Records the handler reports as failed are retried,
  then sent to the on-failure queue, as the mapping's retry limit and destination do.
- A second `StreamPoller` hands the suppression tracker what its own mapping's filter passes
  (contract.suppression_filter_patterns), with its own on-failure queue, as deployed: it keeps the
  suppression states and the day counters that the reconciliation compares with CMC's statistics.
- moto's EventBridge holds the same bus and a subscriber rule whose target is an SQS queue.
- `Subscriber` prints each event reaching that queue as `subscriber-event <envelope JSON>`.

Both handlers are built for one fan-out, from its environment.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from cmc_dev.backend import LocalBackend
from cmc_dev.environment import variable
from cmc_dev.lambda_context import LocalLambdaContext
from cmc_webhooks import contract
from cmc_webhooks.settings import PublisherSettings, PublishTunables

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

LOCAL_NAME = "cmc-webhooks-local"
STREAM_BATCH_SIZE = contract.STREAM_BATCH_SIZE
RETRY_ATTEMPTS = contract.STREAM_RETRY_ATTEMPTS  # the deployed mapping's retry_attempts
Handler = Callable[[dict[str, Any], Any], Any]


def matches(pattern: Any, value: Any) -> bool:
    """The subset of EventBridge/Lambda filter syntax our patterns use: nested keys, lists of values
    and of `{"prefix": ...}` matches."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            key in value and matches(sub, value[key]) for key, sub in pattern.items()
        )
    if isinstance(pattern, list):
        return any(
            isinstance(value, str) and value.startswith(choice["prefix"])
            if isinstance(choice, dict)
            else value == choice
            for choice in pattern
        )
    return bool(pattern == value)


@dataclass(frozen=True)
class LocalFanout:
    bus_name: str
    subscriber_queue_url: str
    on_failure_queue_url: str
    tracker_on_failure_queue_url: str  # the suppression tracker's own, as deployed


def create_fanout(backend: LocalBackend, *, source: str, name: str = LOCAL_NAME) -> LocalFanout:
    """The bus, a subscriber queue with a rule for everything from `source`, and the on-failure queue."""
    events, sqs = backend.client("events"), backend.client("sqs")
    bus_name = f"{name}-bus"
    events.create_event_bus(Name=bus_name)
    subscriber = sqs.create_queue(QueueName=f"{name}-subscriber")["QueueUrl"]
    on_failure = sqs.create_queue(QueueName=f"{name}-publisher-failures")["QueueUrl"]
    tracker_on_failure = sqs.create_queue(QueueName=f"{name}-tracker-failures")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=subscriber, AttributeNames=["QueueArn"])["Attributes"]
    events.put_rule(
        Name=f"{name}-subscriber", EventBusName=bus_name, EventPattern=json.dumps({"source": [source]})
    )
    events.put_targets(
        Rule=f"{name}-subscriber",
        EventBusName=bus_name,
        Targets=[{"Id": "queue", "Arn": attributes["QueueArn"]}],
    )
    return LocalFanout(bus_name, subscriber, on_failure, tracker_on_failure)


class StreamPoller(threading.Thread):
    def __init__(
        self,
        backend: LocalBackend,
        handler: Handler,
        *,
        patterns: list[dict[str, Any]],
        on_failure_queue_url: str,
        interval: float = 0.1,
    ) -> None:
        super().__init__(name="stream-poller", daemon=True)
        self.handler, self.patterns, self.interval = handler, patterns, interval
        self.on_failure_queue_url = on_failure_queue_url
        self.streams = backend.client("dynamodbstreams")
        self.sqs: SQSClient = backend.client("sqs")
        table = backend.dynamodb().describe_table(TableName=backend.table_name)["Table"]
        self.stream_arn = table["LatestStreamArn"]
        self.stopped = threading.Event()
        self.idle = threading.Event()  # set whenever a poll found nothing new
        self._iterators: dict[str, str | None] = {}

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)

    def run(self) -> None:
        while not self.stopped.is_set():
            if not self.poll_once():
                self.idle.set()
                self.stopped.wait(self.interval)

    def poll_once(self) -> bool:
        """One pass over every shard; True if any record was read."""
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        read_any = False
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            iterator = self._iterators[shard_id]
            if iterator is None:
                continue
            response = self.streams.get_records(ShardIterator=iterator, Limit=STREAM_BATCH_SIZE)
            self._iterators[shard_id] = response.get("NextShardIterator")
            records = response.get("Records", [])
            if records:
                read_any = True
                self.idle.clear()
                self.deliver(records)
        return read_any

    def deliver(self, records: list[dict[str, Any]]) -> None:
        batch = [
            {**record, "eventSourceARN": self.stream_arn}
            for record in records
            if any(matches(pattern, record) for pattern in self.patterns)
        ]
        for _ in range(1 + RETRY_ATTEMPTS):
            if not batch:
                return
            try:
                response = self.handler({"Records": batch}, LocalLambdaContext()) or {}
                failed = {failure["itemIdentifier"] for failure in response.get("batchItemFailures", [])}
            except Exception:  # Lambda treats a raised error as the whole batch failing
                failed = {record["dynamodb"]["SequenceNumber"] for record in batch}
            batch = [record for record in batch if record["dynamodb"]["SequenceNumber"] in failed]
        for record in batch:  # what the mapping's on-failure destination receives: where to find it
            self.sqs.send_message(
                QueueUrl=self.on_failure_queue_url,
                MessageBody=json.dumps(
                    {"streamArn": self.stream_arn, "sequenceNumber": record["dynamodb"]["SequenceNumber"]}
                ),
            )


class Subscriber(threading.Thread):
    """Prints every event that reaches the subscriber queue, one line each."""

    def __init__(self, backend: LocalBackend, queue_url: str, out: TextIO = sys.stdout) -> None:
        super().__init__(name="subscriber", daemon=True)
        self.sqs: SQSClient = backend.client("sqs")
        self.queue_url, self.out = queue_url, out
        self.stopped = threading.Event()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)

    def run(self) -> None:
        while not self.stopped.is_set():
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            for message in messages:
                envelope = json.loads(message["Body"])
                line = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
                self.out.write(f"subscriber-event {line}\n")
                self.out.flush()
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@contextmanager
def running_fanout(
    backend: LocalBackend, *, env: MutableMapping[str, str], subscriber_out: TextIO | None = sys.stdout
) -> Iterator[tuple[LocalFanout, StreamPoller]]:
    """Bus, queues, the pollers feeding the publisher and the suppression tracker, and (unless None) a
    printing subscriber."""
    tunables = PublishTunables.model_validate(env)  # the publisher's own variables: source, kinds
    fanout = create_fanout(backend, source=tunables.event_source)
    env[variable(PublisherSettings, "event_bus_name")] = fanout.bus_name
    # Imported once the environment is set: Powertools reads it when the module loads.
    from cmc_webhooks.handlers import publisher, suppression_tracker  # noqa: PLC0415

    # Built for this fan-out from its environment, as each function builds them from its own.
    publisher_deps = publisher.build_dependencies(env)
    tracker_deps = suppression_tracker.build_dependencies(env)
    poller = StreamPoller(
        backend,
        publisher.make_handler(lambda: publisher_deps),
        patterns=contract.stream_filter_patterns(tunables.published_kinds),
        on_failure_queue_url=fanout.on_failure_queue_url,
    )
    # The suppression tracker: the stream's second consumer, with its own mapping and filter.
    tracker = StreamPoller(
        backend,
        suppression_tracker.make_handler(lambda: tracker_deps),
        patterns=contract.suppression_filter_patterns(),
        on_failure_queue_url=fanout.tracker_on_failure_queue_url,
    )
    subscriber = Subscriber(backend, fanout.subscriber_queue_url, subscriber_out) if subscriber_out else None
    poller.start()
    tracker.start()
    if subscriber:
        subscriber.start()
    try:
        yield fanout, poller
    finally:
        poller.stop()
        tracker.stop()
        if subscriber:
            subscriber.stop()
