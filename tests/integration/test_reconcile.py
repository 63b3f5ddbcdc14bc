"""The reconciliation against moto over loopback and the fake CMC API over loopback HTTP: the real
DynamoDB adapter (BatchGetItem, day counters kept by the suppression tracker from the stream) and the real
API client."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cmc_dev.fake_cmc_api import FakeCmcState, running_fake_cmc_api
from cmc_dev.fanout import StreamPoller
from cmc_dev.lambda_context import LocalLambdaContext
from cmc_webhooks import contract
from cmc_webhooks.dal.cmc_api import ApiCredentials, CmcApiClient
from cmc_webhooks.dal.dynamodb import DynamoDBEventStore
from cmc_webhooks.dal.reconcile_store import ReconcileTableStore
from cmc_webhooks.dal.suppressions import DynamoDBSuppressionStore
from cmc_webhooks.errors import CredentialsUnavailable
from cmc_webhooks.handlers import suppression_tracker
from cmc_webhooks.handlers.reconcile import ReconcileDependencies, api_credentials, make_handler
from cmc_webhooks.logic.ingest import IngestOptions
from cmc_webhooks.logic.reconcile import ReconcileError, ReconcileOptions, reconcile_day, reconcile_days
from cmc_webhooks.settings import ReconcileSettings, TrackerSettings
from tests.conftest import load_fixture
from tests.integration.conftest import DYNAMODB_BACKENDS, Api, api_for

DAY = date(2023, 1, 25)
OPTIONS = ReconcileOptions(
    server_composition="pro",
    ingest=IngestOptions(time_zone=ZoneInfo("Asia/Tokyo"), retention=timedelta(days=30), max_records=100),
    rows_per_page=100,
)


@dataclasses.dataclass
class Harness:
    api: Api
    cmc: FakeCmcState
    url: str
    store: ReconcileTableStore
    counter: StreamPoller

    def client(self, budget: int = 50) -> CmcApiClient:
        return CmcApiClient(
            self.url,
            credentials=ApiCredentials("api-user", "api-key"),
            server_composition="pro",
            request_budget=budget,
            sleep=lambda _: None,
        )

    def reconcile(self, **options: Any) -> dict[str, Any]:
        summary = reconcile_day(
            DAY,
            api=self.client(),
            store=self.store,
            options=dataclasses.replace(OPTIONS, **options),
            now=datetime.now(UTC),
        ).as_dict()
        self.counted()
        return summary

    def counted(self) -> None:
        while self.counter.poll_once():
            pass

    def events(self) -> list[dict[str, Any]]:
        return [item for item in self.api.items() if item["sk"]["S"].startswith("EVENT#")]


class Bus:
    """The tracker's announcements (DynamoDB Local has no EventBridge beside it)."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def publish(self, entries: Sequence[dict[str, Any]]) -> list[int]:
        self.entries += entries
        return []


def harness_on(api: Api) -> Iterator[Harness]:
    backend = dataclasses.replace(api.backend, table_name=api.table_name)
    client = backend.dynamodb()
    store = ReconcileTableStore(api.table_name, client=client)
    dependencies = suppression_tracker.TrackerDependencies(
        settings=TrackerSettings.from_env({"CMC_TABLE_NAME": api.table_name, "CMC_EVENT_BUS_NAME": "bus"}),
        events=DynamoDBEventStore(api.table_name, client=client),
        store=DynamoDBSuppressionStore(api.table_name, client=client),
        publisher=Bus(),
        counters=store,
    )
    counter = StreamPoller(
        backend,
        suppression_tracker.make_handler(lambda: dependencies),
        patterns=contract.suppression_filter_patterns(),
        on_failure_queue_url="unused: the tracker does not fail here",
    )
    with running_fake_cmc_api() as (url, cmc):
        yield Harness(api, cmc, url, store, counter)


@pytest.fixture
def harness(api_client: Api) -> Iterator[Harness]:
    yield from harness_on(api_client)


@pytest.fixture(params=DYNAMODB_BACKENDS)
def any_harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """On moto and on AWS's DynamoDB Local: BatchGetItem, UpdateItem ADD and the stream as AWS has them."""
    yield from harness_on(api_for(request))


def queued(count: int) -> list[dict[str, Any]]:
    template = load_fixture("seed_deliveries_queued")["event"]["deliveries"][0]
    return [dict(template, messageId=f"<m-{n}@example.com>", to=f"user{n}@example.jp") for n in range(count)]


def webhook(event_type: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"event_type": event_type, "server_composition": "pro", "event": {event_type: records}}


def test_a_day_with_gaps_is_completed_and_the_next_run_writes_nothing(any_harness: Harness) -> None:
    harness = any_harness
    rows = queued(150)
    harness.cmc.deliveries = rows
    assert harness.api.post_json(webhook("deliveries", rows[:100])).status == 200
    harness.counted()

    first = harness.reconcile()
    second = harness.reconcile()

    assert first["stored_before"] == {"queued": 100}
    assert (first["fetched"], first["written"], first["already_stored"]) == (150, 50, 100)
    assert len(harness.events()) == 150
    # The counters now agree with CMC: only the bounces are read, nothing is written.
    assert second["stored_before"] == {"queued": 150}
    assert (second["fetched"], second["written"], second["requests"]) == (0, 0, 2)


def test_asked_to_page_anyway_a_complete_day_writes_nothing(harness: Harness) -> None:
    rows = queued(3)
    harness.cmc.deliveries = rows
    assert harness.api.post_json(webhook("deliveries", rows)).status == 200
    harness.counted()

    summary = harness.reconcile(always=True)

    assert (summary["fetched"], summary["written"], summary["already_stored"]) == (3, 0, 3)


def test_an_empty_day_costs_three_requests_and_writes_nothing(harness: Harness) -> None:
    summary = harness.reconcile()

    assert summary["cmc_counts"] is None
    assert (summary["fetched"], summary["written"], summary["requests"]) == (0, 0, 3)
    assert harness.events() == []


def test_429_and_5xx_are_retried_within_the_budget(harness: Harness) -> None:
    harness.cmc.deliveries = queued(2)
    harness.cmc.fail_next = [429, 503, 500]

    summary = harness.reconcile()

    assert (summary["written"], summary["requests"]) == (2, 6)


def test_a_run_stops_at_its_request_budget_and_writes_nothing(harness: Harness) -> None:
    harness.cmc.deliveries = queued(2)
    harness.cmc.fail_next = [429] * 10

    with pytest.raises(ReconcileError, match="budget of 4 API requests"):
        reconcile_day(
            DAY, api=harness.client(budget=4), store=harness.store, options=OPTIONS, now=datetime.now(UTC)
        )
    assert harness.events() == []


def test_an_api_error_fails_the_date_with_cmc_s_message_and_writes_nothing(harness: Harness) -> None:
    harness.cmc.deliveries = queued(150)
    harness.cmc.api_key = "rotated"

    summaries, failures = reconcile_days(
        [DAY], api=harness.client(), store=harness.store, options=OPTIONS, now=lambda: datetime.now(UTC)
    )

    assert failures == ["2023-01-25: statistics/list.json answered 401: 10001: authentication failed"]
    assert summaries == [{"date": "2023-01-25", "error": failures[0].split(": ", 1)[1]}]
    assert harness.events() == []


def test_a_failure_on_a_later_page_writes_nothing_of_the_earlier_ones(harness: Harness) -> None:
    # An API that ignores `p`: page 1 comes back as page 0, after page 0 was read in full.
    harness.cmc.deliveries = queued(150)
    harness.cmc.ignore_paging = True

    with pytest.raises(ReconcileError, match="deliveries of 2023-01-25: page 1 repeats page 0"):
        reconcile_day(DAY, api=harness.client(), store=harness.store, options=OPTIONS, now=datetime.now(UTC))
    assert harness.events() == []


def test_a_bounce_received_by_webhook_and_from_the_api_is_one_item(any_harness: Harness) -> None:
    harness = any_harness
    bounce = load_fixture("seed_bounces_user_unknown")
    assert harness.api.post_json(bounce).status == 200
    row = dict(bounce["event"]["bounces"][0])
    row.update(created="2023-01-25T05:06:07Z", messageId=row["messageId"].strip("<>"), status=2)
    harness.cmc.bounces = [row]

    summary = harness.reconcile()

    assert (summary["fetched"], summary["written"], summary["already_stored"]) == (1, 0, 1)
    assert len(harness.events()) == 1


def test_the_scheduled_function_reads_its_own_secret_and_reconciles_yesterday_or_a_range(
    harness: Harness,
) -> None:
    secrets = harness.api.backend.client("secretsmanager")
    name, empty = f"{harness.api.table_name}-cmc-api", f"{harness.api.table_name}-empty"
    secrets.create_secret(Name=name, SecretString=json.dumps({"api_user": "api-user", "api_key": "api-key"}))
    secrets.create_secret(Name=empty, SecretString=json.dumps({"api_user": "api-user"}))
    settings = ReconcileSettings.from_env(
        {
            "CMC_TABLE_NAME": harness.api.table_name,
            "CMC_API_SECRET_NAME": name,
            "CMC_SERVER_COMPOSITION": "pro",
            "CMC_API_URL": harness.url,
        }
    )
    handler = make_handler(
        lambda: ReconcileDependencies(settings, harness.store, lambda: api_credentials(name))
    )
    harness.cmc.deliveries = queued(2)

    ranged = handler({"date": "2023-01-24", "until": "2023-01-25"}, LocalLambdaContext())
    scheduled = handler({}, LocalLambdaContext())

    assert ranged["failures"] == []
    assert [(day["date"], day["written"]) for day in ranged["dates"]] == [
        ("2023-01-24", 0),
        ("2023-01-25", 2),
    ]
    today = datetime.now(settings.tz).date()
    assert [day["date"] for day in scheduled["dates"]] == [(today - timedelta(days=1)).isoformat()]
    with pytest.raises(CredentialsUnavailable, match="must hold"):
        api_credentials(empty)
    with pytest.raises(ReconcileError, match="at most 31 days"):
        handler({"date": "2023-01-01", "until": "2023-03-01"}, LocalLambdaContext())
