"""One reliability run: the real handlers on loopback, many senders, optional faults; then count.

Webhooks go over HTTP to the local server (the ingest handler), the table's stream goes through
the local poller to the publisher handler, EventBridge (moto) delivers to a subscriber queue.
AWS calls of the two handlers pass through the chaos proxy. Senders act like CMC is assumed to:
a 5xx answer is posted again later (docs/reliability.md).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cmc_dev.backend import running_backend
from cmc_dev.fanout import running_fanout
from cmc_dev.local_function import local_dependencies
from cmc_dev.server import local_defaults, make_http_server
from cmc_dev.spill import SpillPoller, running_spill
from cmc_webhooks import contract
from reliability.chaos import ChaosProxy, FaultPolicy

MAX_POST_ATTEMPTS = 8
SETTLE_SECONDS = 3.0
# Seconds before the drain gets a spilled webhook the table refused again: ten receives (the deployed
# maxReceiveCount) outlast a fault run's outage, as 6 minutes' visibility does in AWS.
SPILL_VISIBILITY_TIMEOUT = 5


@dataclass
class Plan:
    webhooks: int = 2000
    records: int = 100
    senders: int = 8
    repeat_share: float = 0.2  # share of POSTs sent twice
    bounce_share: float = 0.2  # share of webhooks that are `bounces`
    publisher_crash_share: float = 0.0  # share of publisher invocations that crash mid-batch
    faults: FaultPolicy = field(default_factory=FaultPolicy)
    seed: int = 11
    timeout_seconds: float = 900.0


@dataclass
class Result:
    posts: int = 0
    answers_5xx: int = 0
    queued: int = 0  # answered 200 with "queued": spilled, stored later by the drain
    spill_dead_letters: int = 0
    gave_up: int = 0
    unique_records: int = 0
    unique_bounces: int = 0
    stored_events: int = 0
    published: int = 0
    published_unique: int = 0
    on_failure: int = 0
    publisher_crashes: int = 0
    ingest_seconds: float = 0.0
    total_seconds: float = 0.0
    faults: dict[str, int] = field(default_factory=dict)

    @property
    def records_per_second(self) -> float:
        return self.unique_records / self.ingest_seconds if self.ingest_seconds else 0.0

    def problems(self) -> list[str]:
        """What went wrong: nothing lost, nothing stored twice, every bounce published (or in the DLQ)."""
        found = []
        if self.answers_5xx:
            found.append(f"{self.answers_5xx} POSTs were answered 5xx")
        if self.spill_dead_letters:
            found.append(f"{self.spill_dead_letters} spilled webhooks ended in the drain's dead-letter queue")
        if self.gave_up:
            found.append(f"{self.gave_up} POSTs were never accepted")
        if self.stored_events != self.unique_records:
            found.append(f"stored {self.stored_events} events for {self.unique_records} unique records")
        if self.published_unique > self.unique_bounces:
            found.append(f"{self.published_unique} events published for {self.unique_bounces} bounces")
        if self.published_unique + self.on_failure < self.unique_bounces:
            missing = f"{self.published_unique} published, {self.on_failure} in the DLQ"
            found.append(f"{self.unique_bounces} bounces, {missing}")
        return found


def _bounce_webhooks(plan: Plan) -> int:
    return round(plan.webhooks * plan.bounce_share)


def _webhook(plan: Plan, n: int) -> dict[str, Any]:
    bounce = n < _bounce_webhooks(plan)
    records = []
    for i in range(plan.records):
        record = {
            "created": f"2026-11-{1 + n % 28:02d} {n % 24:02d}:{i % 60:02d}:{(n * 7 + i) % 60:02d}",
            "from": "info@example.com",
            "to": f"user{(n * plan.records + i) % 5000}@example.jp",
            "messageId": f"<load-{n}-{i}@example.com>",
            "returnPath": "info@return.example.jp",
            "subject": "load test",
            "apiData": f"run-{n}",
            "reason": "550 5.1.1 User unknown" if bounce else "",
        }
        if bounce:
            record["status"] = "2"
        else:
            record.update(status="succeeded", senderIp="192.0.2.3", sourceIp="")
        records.append(record)
    event_type = "bounces" if bounce else "deliveries"
    return {"event_type": event_type, "server_composition": "load", "event": {event_type: records}}


class Sender:
    """One CMC-like sender: keep-alive HTTP, and a 5xx is posted again after a pause."""

    def __init__(self, base_url: str, result: Result, lock: threading.Lock) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=60)
        self.result, self.lock = result, lock

    def post(self, body: bytes) -> None:
        for attempt in range(MAX_POST_ATTEMPTS):
            self.connection.request(
                "POST", contract.WEBHOOK_PATH, body=body, headers={"Content-Type": "application/json"}
            )
            response = self.connection.getresponse()
            answer = response.read()
            with self.lock:
                self.result.posts += 1
            if response.status < 500:
                assert response.status == 200, response.status
                if json.loads(answer).get("queued"):
                    with self.lock:
                        self.result.queued += 1
                return
            with self.lock:
                self.result.answers_5xx += 1
            time.sleep(min(2.0, 0.05 * 2**attempt))
        with self.lock:
            self.result.gave_up += 1


def _crashing(
    handler: Callable[..., Any], share: float, plan_seed: int, result: Result
) -> Callable[..., Any]:
    """A publisher that, now and then, publishes half a batch and dies (a Lambda crash)."""
    chance = random.Random(plan_seed)

    def wrapped(event: dict[str, Any], context: Any) -> Any:
        if chance.random() < share and len(event["Records"]) > 1:
            result.publisher_crashes += 1
            handler({"Records": event["Records"][: len(event["Records"]) // 2]}, context)
            raise RuntimeError("publisher crashed mid-batch (injected)")
        return handler(event, context)

    return wrapped


class Collector(threading.Thread):
    """A subscriber reading its queue as events arrive (a long queue makes moto's SQS slow)."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        super().__init__(daemon=True)
        self.sqs, self.queue_url = sqs, queue_url
        self.bodies: list[dict[str, Any]] = []
        self.last_message = time.monotonic()
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            if not messages:
                continue
            self.last_message = time.monotonic()
            self.bodies.extend(json.loads(message["Body"]) for message in messages)
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )

    def settle(
        self, stream_idle: threading.Event, quiet_seconds: float, deadline: float
    ) -> list[dict[str, Any]]:
        """Wait until the stream is drained and nothing arrived for `quiet_seconds`, then stop."""
        while time.monotonic() < deadline and not (
            stream_idle.is_set() and time.monotonic() - self.last_message > quiet_seconds
        ):
            time.sleep(0.2)
        self.stopped.set()
        self.join(timeout=10)
        return self.bodies


def _drained(drain: SpillPoller, dead_letter_queue_url: str, deadline: float) -> int:
    """Wait until the drain has stored every spilled webhook; the spilled webhooks dead-lettered instead."""
    while drain.pending() and time.monotonic() < deadline:
        time.sleep(0.2)
    attributes = drain.sqs.get_queue_attributes(
        QueueUrl=dead_letter_queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def run(plan: Plan) -> Result:
    result = Result(unique_records=plan.webhooks * plan.records)
    result.unique_bounces = _bounce_webhooks(plan) * plan.records
    payloads = [json.dumps(_webhook(plan, n)).encode() for n in range(plan.webhooks)]
    shuffle = random.Random(plan.seed)
    sends = payloads + shuffle.sample(payloads, int(len(payloads) * plan.repeat_share))
    shuffle.shuffle(sends)
    started = time.monotonic()
    deadline = started + plan.timeout_seconds
    # The report below counts everything: no log line or metrics blob per request.
    os.environ.update(POWERTOOLS_LOG_LEVEL="WARNING", POWERTOOLS_METRICS_DISABLED="true")
    local_defaults(os.environ)

    with (
        running_backend(table_name="reliability-events") as backend,
        ChaosProxy(backend.endpoint_url, plan.faults) as proxy,
    ):
        os.environ["AWS_ENDPOINT_URL"] = proxy.url  # the handlers' AWS calls go through the faults
        os.environ["AWS_ENDPOINT_URL_S3"] = (
            backend.endpoint_url
        )  # the proxy forwards JSON-protocol calls only
        with (
            running_fanout(backend, env=os.environ, subscriber_out=None) as (fanout, poller),
            running_spill(backend, env=os.environ, visibility_timeout=SPILL_VISIBILITY_TIMEOUT) as (
                spill,
                drain,
            ),
        ):
            from cmc_webhooks.handlers.api import make_handler  # noqa: PLC0415 - after the environment is set

            # Open, as `make local` runs: the faults are the store's and the bus's, not the credentials'.
            dependencies = local_dependencies(os.environ)

            poller.handler = _crashing(poller.handler, plan.publisher_crash_share, plan.seed, result)
            sqs = backend.client("sqs")
            subscriber = Collector(sqs, fanout.subscriber_queue_url)
            dead_letters = Collector(sqs, fanout.on_failure_queue_url)
            subscriber.start()
            dead_letters.start()
            server = make_http_server("127.0.0.1", 0, make_handler(lambda: dependencies), access_log=False)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            base_url = f"http://127.0.0.1:{server.server_address[1]}"
            lock = threading.Lock()
            local = threading.local()

            def send(body: bytes) -> None:
                if not hasattr(local, "sender"):
                    local.sender = Sender(base_url, result, lock)
                local.sender.post(body)

            with ThreadPoolExecutor(max_workers=plan.senders) as pool:
                list(pool.map(send, sends))
            server.shutdown()
            server.server_close()
            result.spill_dead_letters = _drained(drain, spill.dead_letter_queue_url, deadline)
            result.ingest_seconds = time.monotonic() - started

            poller.idle.clear()  # set again once a poll of the stream finds nothing new
            published = subscriber.settle(poller.idle, SETTLE_SECONDS, deadline)
            failures = dead_letters.settle(poller.idle, 0.5, deadline)

        ddb = backend.dynamodb()
        pages = ddb.get_paginator("scan").paginate(
            TableName=backend.table_name,
            Select="COUNT",
            FilterExpression="begins_with(#sk, :event)",
            ExpressionAttributeNames={"#sk": contract.SORT_KEY},
            ExpressionAttributeValues={":event": {"S": contract.EVENT_SORT_KEY_PREFIX}},
        )
        result.stored_events = sum(page["Count"] for page in pages)
    # The publisher's events (the suppression tracker's Recipient Suppressed events reach the same queue).
    published = [event for event in published if "event_id" in event["detail"]]
    result.published = len(published)
    result.published_unique = len({event["detail"]["event_id"] for event in published})
    result.on_failure = len(failures)
    result.faults = dict(plan.faults.counts)
    result.total_seconds = time.monotonic() - started
    return result
