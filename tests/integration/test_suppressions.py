"""Suppression as a service on moto over loopback: the API's decisions, the tracker on the stream,
the events on the bus, the list."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

from cmc_dev.backend import LocalBackend
from cmc_dev.fanout import LocalFanout, StreamPoller, create_fanout
from cmc_webhooks import contract
from cmc_webhooks.dal.dynamodb import DynamoDBEventStore
from cmc_webhooks.dal.eventbridge import EventBridgePublisher
from cmc_webhooks.dal.reconcile_store import ReconcileTableStore
from cmc_webhooks.dal.suppressions import DynamoDBSuppressionStore
from cmc_webhooks.handlers import suppression_tracker
from cmc_webhooks.logic.suppressions import encode_cursor
from cmc_webhooks.settings import TrackerSettings
from tests.conftest import load_fixture
from tests.integration.conftest import Api, Reply

ADDRESS = "reader@example.jp"


@dataclasses.dataclass
class Service:
    api: Api
    fanout: LocalFanout
    tracker: StreamPoller
    sqs: Any

    def drain(self) -> None:
        """Hand the stream to the tracker until it is read to the end (its own writes included)."""
        while self.tracker.poll_once():
            pass

    def events(self) -> list[dict[str, Any]]:
        bodies: list[dict[str, Any]] = []
        while messages := self.sqs.receive_message(
            QueueUrl=self.fanout.subscriber_queue_url, MaxNumberOfMessages=10
        ).get("Messages", []):
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.fanout.subscriber_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return bodies

    def post(self, *records: dict[str, Any]) -> None:
        document = {"event_type": "bounces", "server_composition": "pro", "event": {"bounces": list(records)}}
        assert self.api.post_json(document).status == 200

    def suppress(self, address: str, body: dict[str, Any]) -> Reply:
        return self.api.call("PUT", f"/recipients/{quote(address, safe='')}/suppression", json.dumps(body))

    def lift(self, address: str, body: str = "") -> Reply:
        return self.api.call("DELETE", f"/recipients/{quote(address, safe='')}/suppression", body)

    def recipient(self, address: str) -> dict[str, Any]:
        reply = self.api.call("GET", f"/recipients/{quote(address, safe='')}")
        assert reply.status == 200
        return dict(reply.body)


def bounce(message: str, day: int | None, *, status: str, reason: str, to: str = ADDRESS) -> dict[str, Any]:
    """A bounce on that day of January 2026, or (None) a minute from now (CMC's time zone, Tokyo)."""
    template = load_fixture("seed_bounces_user_unknown")["event"]["bounces"][0]
    later = datetime.now(ZoneInfo("Asia/Tokyo")) + timedelta(minutes=1)
    created = f"2026-01-{day:02d} 10:00:00" if day else later.strftime("%Y-%m-%d %H:%M:%S")
    return dict(
        template, messageId=f"<{message}@example.com>", to=to, status=status, reason=reason, created=created
    )


def soft(message: str, day: int, to: str = ADDRESS) -> dict[str, Any]:
    return bounce(message, day, status="5", reason="452 4.2.2 Mailbox full", to=to)


def hard(message: str, day: int | None, to: str = ADDRESS) -> dict[str, Any]:
    return bounce(message, day, status="2", reason="550 5.1.1 User unknown", to=to)


@pytest.fixture
def service(api_client: Api, backend: LocalBackend) -> Service:
    fanout = create_fanout(backend, source=contract.DEFAULT_EVENT_SOURCE, name=f"s-{uuid.uuid4().hex[:10]}")
    table = dataclasses.replace(backend, table_name=api_client.table_name)
    settings = TrackerSettings.from_env(
        {"CMC_TABLE_NAME": api_client.table_name, "CMC_EVENT_BUS_NAME": fanout.bus_name}
    )
    dependencies = suppression_tracker.TrackerDependencies(
        settings=settings,
        events=DynamoDBEventStore(api_client.table_name, client=backend.dynamodb()),
        store=DynamoDBSuppressionStore(api_client.table_name, client=backend.dynamodb()),
        publisher=EventBridgePublisher(client=backend.client("events")),
        counters=ReconcileTableStore(api_client.table_name, client=backend.dynamodb()),
    )
    tracker = StreamPoller(
        table,
        suppression_tracker.make_handler(lambda: dependencies),
        patterns=contract.suppression_filter_patterns(),
        on_failure_queue_url=fanout.tracker_on_failure_queue_url,
    )
    return Service(api_client, fanout, tracker, backend.client("sqs"))


def details(events: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(event["detail-type"], event["detail"]) for event in events]


def test_soft_bounces_a_lift_and_a_hard_bounce_are_each_announced_once(service: Service) -> None:
    # Three soft bounces within the window: one Recipient Suppressed
    service.post(soft("s1", 1), soft("s2", 2))
    service.drain()
    assert service.events() == []
    service.post(soft("s3", 3))
    service.drain()
    [(kind, detail)] = details(service.events())
    assert kind == "Recipient Suppressed"
    assert (detail["address"], detail["suppressed"]) == (ADDRESS, True)
    assert detail["reason"] == "soft_bounces:3_in_7_days"
    assert detail["schema_version"] == "1.0"
    assert detail["cause_event_id"]

    # A lift: one Recipient Unsuppressed naming who lifted it; the view says who and why
    reply = service.lift(ADDRESS, json.dumps({"note": "mailbox emptied by the owner"}))
    assert reply.status == 200
    assert reply.body["changed"] is True
    service.drain()
    [(kind, detail)] = details(service.events())
    assert kind == "Recipient Unsuppressed"
    assert detail["reason"] == "lifted"
    assert detail["actor"] == "arn:aws:iam::000000000000:user/local-developer"
    view = service.recipient(ADDRESS)
    assert view["suppressed"] is False
    [decision] = view["decisions"]
    assert (decision["action"], decision["note"]) == ("lift", "mailbox emptied by the owner")
    assert decision["actor"] == detail["actor"]
    assert view["state"]["decision_id"] == decision["decision_id"]

    # A hard bounce from before the lift, posted late, changes nothing
    service.post(hard("h0", 28))
    service.drain()
    assert service.events() == []
    # The next hard bounce (after the lift) suppresses again, with one new event
    service.post(hard("h1", None))
    service.drain()
    [(kind, detail)] = details(service.events())
    assert (kind, detail["reason"]) == ("Recipient Suppressed", "hard_bounce:user_unknown")
    assert detail["change_id"] == f"{ADDRESS}#3"


def test_the_same_causes_posted_again_announce_nothing_new(service: Service) -> None:
    service.post(soft("s1", 1), soft("s2", 2), soft("s3", 3))
    service.drain()
    assert len(service.events()) == 1
    # CMC posts them again, in another order: the state is the same, nothing is announced
    service.post(soft("s3", 3), soft("s1", 1), soft("s2", 2))
    service.drain()
    assert service.events() == []


def test_replaying_the_stream_announces_nothing_new(service: Service) -> None:
    service.post(hard("h1", 1))
    service.drain()
    assert len(service.events()) == 1
    records = [
        record
        for shard in service.tracker.streams.describe_stream(StreamArn=service.tracker.stream_arn)[
            "StreamDescription"
        ]["Shards"]
        for record in service.tracker.streams.get_records(
            ShardIterator=service.tracker.streams.get_shard_iterator(
                StreamArn=service.tracker.stream_arn,
                ShardId=shard["ShardId"],
                ShardIteratorType="TRIM_HORIZON",
            )["ShardIterator"]
        )["Records"]
    ]
    # Every record but the state change itself, delivered again, out of order
    causes = [r for r in records if r["dynamodb"]["NewImage"][contract.SORT_KEY]["S"] != "STATE"]
    service.tracker.deliver(list(reversed(causes)))
    service.drain()
    assert service.events() == []


def test_a_manual_suppression_of_a_clean_address_is_listed(service: Service) -> None:
    reply = service.suppress("Clean@Example.JP", {"reason": "complaint_by_phone", "note": "called on Monday"})
    assert reply.status == 200
    assert (reply.body["changed"], reply.body["state"]["reason"]) == (True, "manual:complaint_by_phone")
    service.drain()
    [(kind, detail)] = details(service.events())
    assert (kind, detail["address"], detail["reason"]) == (
        "Recipient Suppressed",
        "Clean@example.jp",
        "manual:complaint_by_phone",
    )
    listed = service.api.call("GET", "/suppressions")
    assert listed.status == 200
    assert [entry["address"] for entry in listed.body["suppressions"]] == ["Clean@example.jp"]
    assert listed.body["next_cursor"] is None


def test_the_list_pages_by_address(service: Service) -> None:
    addresses = [f"user{n}@example.jp" for n in range(5)]
    service.post(*(hard(f"m{n}", 1, to=address) for n, address in enumerate(addresses)))
    service.drain()
    seen: list[str] = []
    cursor = ""
    while True:
        reply = service.api.call("GET", f"/suppressions?limit=2{'&cursor=' + cursor if cursor else ''}")
        assert reply.status == 200
        assert len(reply.body["suppressions"]) <= 2
        seen += [entry["address"] for entry in reply.body["suppressions"]]
        if not (cursor := reply.body["next_cursor"]):
            break
    assert seen == addresses


def test_a_lift_of_an_address_not_suppressed_is_a_200_that_says_so(service: Service) -> None:
    reply = service.lift("nobody@example.jp")
    assert reply.status == 200
    assert (reply.body["changed"], reply.body["decision"]) == (False, None)
    assert "not suppressed" in reply.body["message"]
    assert service.recipient("nobody@example.jp")["decisions"] == []


def test_cmc_block_list_codes_are_their_own_reason(service: Service) -> None:
    service.post(bounce("u1", 1, status="11", reason="unsubscribed"))
    service.drain()
    [(_, detail)] = details(service.events())
    assert (detail["reason"], detail["cmc_block_list"]) == ("unsubscribed", True)
    reply = service.lift(ADDRESS)
    assert "CMC itself still refuses" in reply.body["message"]


@pytest.mark.parametrize(
    ("address", "body", "problem"),
    [
        ("not-an-address", {"reason": "x"}, "address"),
        (ADDRESS, {"reason": "  "}, "reason"),
        (ADDRESS, {}, "reason"),
        (ADDRESS, {"reason": "x", "actor": "me"}, "actor"),
        (ADDRESS, [1], "body"),
    ],
)
def test_bad_requests_get_a_400_naming_the_problem_and_store_nothing(
    service: Service, address: str, body: Any, problem: str
) -> None:
    before = len(service.api.items())
    reply = service.suppress(address, body)
    assert reply.status == 400
    assert reply.body["error"] == "invalid_request"
    assert problem in reply.body["message"]
    assert len(service.api.items()) == before


def test_the_list_refuses_a_bad_limit_or_cursor(service: Service) -> None:
    crafted = [encode_cursor(""), encode_cursor("x" * 3000), "eyJhZnRlciI6IDF9"]  # {"after": 1}
    queries = ["limit=0", "limit=abc", "limit=1001", "cursor=%%%", "cursor=bm90LWpzb24"]
    for query in [*queries, *(f"cursor={cursor}" for cursor in crafted)]:
        reply = service.api.call("GET", f"/suppressions?{query}")
        assert reply.status == 400, query
        assert reply.body["error"] == "invalid_query"


def test_a_bounce_deleted_by_ttl_unsuppresses_its_address_once(service: Service) -> None:
    service.post(hard("h1", 1))
    service.drain()
    assert len(service.events()) == 1
    [item] = [
        item
        for item in service.api.items()
        if item[contract.SORT_KEY]["S"].startswith(contract.EVENT_SORT_KEY_PREFIX)
    ]
    keys = {name: item[name] for name in (contract.PARTITION_KEY, contract.SORT_KEY)}
    service.api.backend.dynamodb().delete_item(TableName=service.api.table_name, Key=keys)
    # What the stream holds for a TTL deletion (moto does not run TTL): the old image, DynamoDB as actor
    removal = {
        "eventName": "REMOVE",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        "dynamodb": {"Keys": keys, "OldImage": item, "SequenceNumber": "ttl-1"},
    }
    service.tracker.deliver([removal])
    service.drain()
    [(kind, detail)] = details(service.events())
    assert (kind, detail["suppressed"], detail["change_id"]) == (
        "Recipient Unsuppressed",
        False,
        f"{ADDRESS}#2",
    )
    # a deletion by anyone else (not TTL) is not the tracker's business
    service.tracker.deliver([{**removal, "userIdentity": {"type": "IAMUser"}}])
    assert service.events() == []
