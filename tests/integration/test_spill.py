"""The spill on moto's server over loopback: a webhook the table refuses goes to the SQS spill queue (a
large one through the S3 bucket), is answered 200 "queued", and the drain, fed by `make local`'s poller,
stores exactly the items a direct write stores."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from cmc_dev.backend import LocalBackend
from cmc_dev.spill import LocalSpill, SpillPoller, create_spill
from cmc_webhooks.dal.dynamodb import DynamoDBEventStore
from cmc_webhooks.dal.spill import SpillReader, SqsSpill
from cmc_webhooks.errors import StorageUnavailable
from cmc_webhooks.handlers.spill_drain import DrainDependencies, make_handler
from cmc_webhooks.models.store import StoredItem
from tests.conftest import fixture_text
from tests.integration.conftest import DYNAMODB_BACKENDS, Api, api_for, api_on


class Refusing(DynamoDBEventStore):
    """The table as it is while DynamoDB throttles: every write refused after retries."""

    def write(self, items: Sequence[StoredItem]) -> None:
        raise StorageUnavailable("the event store refused the write; try again")


@pytest.fixture
def spill(backend: LocalBackend) -> LocalSpill:
    return create_spill(backend, name=f"spill-{uuid.uuid4().hex[:12]}")


def spilling(api: Api, spill: LocalSpill, aws: LocalBackend) -> Api:
    """The function with its table refusing every write, spilling to `aws` (moto: SQS and S3)."""
    queue = SqsSpill(spill.queue_url, spill.bucket_name, sqs=aws.client("sqs"), s3=aws.client("s3"))
    api = api.with_store(Refusing(api.table_name, client=api.backend.dynamodb()))
    return replace(api, dependencies=replace(api.dependencies, spill=queue))


def drain_all(api: Api, spill: LocalSpill, aws: LocalBackend) -> None:
    deps = DrainDependencies(
        store=DynamoDBEventStore(api.table_name, client=api.backend.dynamodb()),
        reader=SpillReader(s3=aws.client("s3")),
        options=api.dependencies.ingest_options,
    )
    poller = SpillPoller(aws, make_handler(lambda: deps), spill)
    while poller.poll_once():
        pass
    assert poller.pending() == 0


def without_receipt(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items without the two attributes that depend on when the webhook arrived."""
    return sorted(
        ({k: v for k, v in item.items() if k not in {"received_at", "expires_at"}} for item in items),
        key=lambda item: (item["message_id"]["S"], item["sk"]["S"]),
    )


def large_webhook() -> str:
    document = json.loads(fixture_text("seed_deliveries_queued"))
    record = next(iter(document["event"].values()))[0]
    records = [
        {**record, "messageId": f"<large-{n}@example.com>", "subject": "件名" * 200} for n in range(150)
    ]
    document["event"] = {"deliveries": records}
    return json.dumps(document, ensure_ascii=False)


@pytest.fixture(params=DYNAMODB_BACKENDS)
def table_api(request: pytest.FixtureRequest) -> Api:
    """The function on a fresh table of moto or of DynamoDB Local (the queue and bucket stay moto's)."""
    return api_for(request)


@pytest.mark.parametrize(
    ("body", "objects_in_bucket"),
    [(fixture_text("batch_with_invalid_record"), 0), (large_webhook(), 1)],
    ids=["in-the-message", "through-the-bucket"],
)
def test_a_refused_webhook_is_queued_and_the_drain_stores_what_a_direct_write_stores(
    backend: LocalBackend, table_api: Api, spill: LocalSpill, body: str, objects_in_bucket: int
) -> None:
    api, direct = spilling(table_api, spill, backend), api_on(table_api.backend)
    reply = api.call("POST", "/webhooks/events", body, "application/json")
    assert reply.status == 200, reply.body
    assert reply.body["queued"] is True
    assert api.items() == []
    objects = backend.client("s3").list_objects_v2(Bucket=spill.bucket_name).get("Contents", [])
    assert len(objects) == objects_in_bucket

    drain_all(api, spill, backend)
    assert direct.call("POST", "/webhooks/events", body, "application/json").status == 200
    assert without_receipt(api.items()) == without_receipt(direct.items())
    assert len(api.items()) == reply.body["written"] + reply.body["quarantined"]


def test_when_the_queue_refuses_too_the_sender_gets_503(backend: LocalBackend, spill: LocalSpill) -> None:
    api = spilling(api_on(backend), replace(spill, queue_url=spill.queue_url + "-missing"), backend)
    reply = api.call("POST", "/webhooks/events", fixture_text("seed_deliveries_queued"), "application/json")
    assert reply.status == 503
    assert reply.body["error"] == "storage_unavailable"


def test_a_spilled_webhook_is_drained_only_once_the_table_takes_it(
    backend: LocalBackend, spill: LocalSpill
) -> None:
    api = spilling(api_on(backend), spill, backend)
    assert (
        api.call(
            "POST", "/webhooks/events", fixture_text("seed_bounces_user_unknown"), "application/json"
        ).status
        == 200
    )
    deps = DrainDependencies(
        store=Refusing(api.table_name, client=backend.dynamodb()),
        reader=SpillReader(s3=backend.client("s3")),
        options=api.dependencies.ingest_options,
    )
    poller = SpillPoller(backend, make_handler(lambda: deps), spill)
    assert poller.poll_once()
    assert poller.pending() == 1  # still there, handed out again after the visibility timeout
    assert api.items() == []
