"""Stream -> publisher handler -> EventBridge -> subscriber queue, on moto over loopback."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from cmc_dev.backend import LocalBackend
from cmc_dev.environment import variable
from cmc_dev.fanout import LocalFanout, StreamPoller, create_fanout
from cmc_webhooks import contract
from cmc_webhooks.handlers import publisher
from cmc_webhooks.settings import PublisherSettings
from reliability.chaos import EVENTS, ChaosProxy, FaultPolicy
from tests.conftest import load_fixture
from tests.integration.conftest import Api


class FailingPutEvents(ChaosProxy):
    """moto behind a proxy that fails the PutEvents entries of chosen messages, a number of times each."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream, FaultPolicy())
        self.failures: dict[str, int] = {}  # message id -> how many more times its entry fails

    def handle(
        self, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        if target != EVENTS + "PutEvents":
            return self.forward(headers, body)
        request = json.loads(body)
        failing = []
        for entry in request["Entries"]:
            message_id = json.loads(entry["Detail"])["message_id"]
            left = self.failures.get(message_id, 0)
            self.failures[message_id] = max(0, left - 1)
            failing.append(left > 0)
        passing = [entry for entry, fails in zip(request["Entries"], failing, strict=True) if not fails]
        published: Iterator[dict[str, Any]] = iter([])
        if passing:
            _, _, data = self.forward(headers, json.dumps({**request, "Entries": passing}).encode())
            published = iter(json.loads(data)["Entries"])
        entries = [
            {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"} if fails else next(published)
            for fails in failing
        ]
        response = {"FailedEntryCount": sum(failing), "Entries": entries}
        return 200, [("Content-Type", "application/x-amz-json-1.1")], json.dumps(response).encode()


@dataclasses.dataclass
class Bus:
    fanout: LocalFanout
    events: FailingPutEvents


@pytest.fixture(scope="module")
def bus(backend: LocalBackend) -> Iterator[Bus]:
    """One bus for the module; the publisher reaches it through the proxy (set before its first call)."""
    fanout = create_fanout(backend, source=contract.DEFAULT_EVENT_SOURCE, name=f"t-{uuid.uuid4().hex[:10]}")
    events = FailingPutEvents(backend.endpoint_url)
    with events, pytest.MonkeyPatch.context() as patch:
        patch.setenv(variable(PublisherSettings, "event_bus_name"), fanout.bus_name)
        patch.setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", events.url)  # boto3's endpoint for EventBridge alone
        yield Bus(fanout, events)


@dataclasses.dataclass
class Fanout:
    api: Api
    fanout: LocalFanout
    poller: StreamPoller
    sqs: Any
    events: FailingPutEvents

    def received(self, queue_url: str) -> list[dict[str, Any]]:
        bodies: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return bodies
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    def drain_stream(self) -> None:
        while self.poller.poll_once():
            pass


@pytest.fixture
def fan(api_client: Api, bus: Bus) -> Iterator[Fanout]:
    backend = dataclasses.replace(api_client.backend, table_name=api_client.table_name)
    poller = StreamPoller(
        backend,
        publisher.lambda_handler,
        patterns=contract.stream_filter_patterns(contract.DEFAULT_PUBLISHED_KINDS),
        on_failure_queue_url=bus.fanout.on_failure_queue_url,
    )
    fan = Fanout(api_client, bus.fanout, poller, backend.client("sqs"), bus.events)
    yield fan
    bus.events.failures.clear()
    fan.received(bus.fanout.subscriber_queue_url)  # the next test starts with empty queues
    fan.received(bus.fanout.on_failure_queue_url)


def test_a_bounce_is_published_once_and_a_success_not_at_all(fan: Fanout) -> None:
    # Given a bounce posted twice and a successful delivery
    for name in ("seed_bounces_user_unknown", "seed_bounces_user_unknown", "seed_deliveries_succeeded"):
        assert fan.api.post_json(load_fixture(name)).status == 200

    # When the stream is delivered to the publisher
    fan.drain_stream()

    # Then the subscriber got exactly one event: the bounce, with the documented detail
    [event] = fan.received(fan.fanout.subscriber_queue_url)
    assert event["detail-type"] == "Email Bounced"
    assert event["source"] == "customers-mail-cloud"
    assert event["detail"]["bounce_code"] == "2"
    assert event["detail"]["message_id"] == "9e7e564c-ac83-8cd8-2cb4-b9ff2a9f168d@example.com"
    assert fan.received(fan.fanout.on_failure_queue_url) == []


def bounces(count: int) -> dict[str, Any]:
    template = load_fixture("seed_bounces_user_unknown")["event"]["bounces"][0]
    records = [dict(template, messageId=f"<b-{n}@example.com>") for n in range(count)]
    return {"event_type": "bounces", "server_composition": "pro", "event": {"bounces": records}}


def test_partial_put_events_failures_are_retried_and_nothing_is_lost(fan: Fanout) -> None:
    fan.events.failures.update({"b-3@example.com": 2, "b-17@example.com": 1})

    assert fan.api.post_json(bounces(30)).status == 200
    fan.drain_stream()

    published = {event["detail"]["message_id"] for event in fan.received(fan.fanout.subscriber_queue_url)}
    assert published == {f"b-{n}@example.com" for n in range(30)}
    assert fan.received(fan.fanout.on_failure_queue_url) == []


def test_a_record_that_keeps_failing_goes_to_the_on_failure_queue_alone(fan: Fanout) -> None:
    fan.events.failures["b-5@example.com"] = 10_000

    assert fan.api.post_json(bounces(12)).status == 200
    fan.drain_stream()

    published = {event["detail"]["message_id"] for event in fan.received(fan.fanout.subscriber_queue_url)}
    assert published == {f"b-{n}@example.com" for n in range(12)} - {"b-5@example.com"}
    [failure] = fan.received(fan.fanout.on_failure_queue_url)
    assert failure["streamArn"] == fan.poller.stream_arn
    # the failure names the stream record of b-5, which lets an operator find and replay it
    streams = fan.poller.streams
    shard_id = streams.describe_stream(StreamArn=failure["streamArn"])["StreamDescription"]["Shards"][0][
        "ShardId"
    ]
    iterator = streams.get_shard_iterator(
        StreamArn=failure["streamArn"],
        ShardId=shard_id,
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=failure["sequenceNumber"],
    )["ShardIterator"]
    [record] = streams.get_records(ShardIterator=iterator, Limit=1)["Records"]
    assert record["dynamodb"]["NewImage"]["message_id"]["S"] == "b-5@example.com"


def test_the_published_bounce_carries_its_classification(fan: Fanout) -> None:
    assert fan.api.post_json(load_fixture("seed_bounces_user_unknown")).status == 200
    fan.drain_stream()
    [event] = fan.received(fan.fanout.subscriber_queue_url)
    classification = event["detail"]["classification"]
    assert classification["bounce_type"] == "hard"
    assert classification["bounce_category"] == "user_unknown"
    assert (classification["smtp_code"], classification["enhanced_status"]) == ("550", "5.1.1")
