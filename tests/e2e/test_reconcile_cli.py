"""End to end: `python -m cmc_dev.cli reconcile` as a user runs it against what `make local` runs (moto on
loopback, its fan-out: the stream -> suppression tracker, which keeps the day counters, and publisher ->
bus -> subscriber queue) and the fake CMC API on loopback. A day whose webhooks were partly lost is
complete after one run, nothing twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from cmc_dev.backend import LocalBackend, running_backend
from cmc_dev.fake_cmc_api import FakeCmcState, running_fake_cmc_api
from cmc_dev.fanout import LocalFanout, StreamPoller, running_fanout
from cmc_dev.gateway import rest_proxy_event
from cmc_dev.lambda_context import LocalLambdaContext
from cmc_dev.local_function import local_dependencies
from cmc_webhooks import contract
from tests.conftest import load_fixture
from tests.e2e.test_cli import ROOT

TABLE = "reconcile-cli-events"


@dataclass
class Local:
    backend: LocalBackend
    fanout: LocalFanout
    poller: StreamPoller
    url: str
    cmc: FakeCmcState

    def post(self, document: dict[str, Any]) -> None:
        from cmc_webhooks.handlers import api  # noqa: PLC0415 - once the environment is set

        event = rest_proxy_event(
            method="POST",
            target=contract.WEBHOOK_PATH,
            headers=[("Content-Type", "application/json")],
            body=json.dumps(document).encode(),
            source_ip="127.0.0.1",
        )
        dependencies = local_dependencies(os.environ)
        assert api.make_handler(lambda: dependencies)(event, LocalLambdaContext())["statusCode"] == 200

    def settled(self) -> None:
        """Wait until the publisher's poller has seen everything stored so far (twice idle: a poll that
        began before the last write may end idle too)."""
        for _ in range(2):
            self.poller.idle.clear()
            assert self.poller.idle.wait(timeout=60)

    def published(self) -> list[dict[str, Any]]:
        sqs = self.backend.client("sqs")
        bodies = []
        while messages := sqs.receive_message(
            QueueUrl=self.fanout.subscriber_queue_url, MaxNumberOfMessages=10
        ).get("Messages", []):
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                sqs.delete_message(
                    QueueUrl=self.fanout.subscriber_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        # The publisher's events (the suppression tracker's reach the same subscriber).
        tracker_types = {contract.SUPPRESSED_DETAIL_TYPE, contract.UNSUPPRESSED_DETAIL_TYPE}
        return [body for body in bodies if body["detail-type"] not in tracker_types]

    def reconcile(self, *extra: str, api_key: str = "api-key") -> subprocess.CompletedProcess[str]:
        clean = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "CMC_"))}
        return subprocess.run(
            [
                sys.executable, "-m", "cmc_dev.cli", "reconcile", "--date", "2023-01-25",
                "--server-composition", "pro", "--cmc-api-url", self.url,
                "--table", TABLE, "--endpoint-url", self.backend.endpoint_url, *extra,
            ],
            cwd=ROOT,
            env={**clean, "CMC_API_USER": "api-user", "CMC_API_KEY": api_key},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )  # fmt: skip


@pytest.fixture(scope="module")
def local() -> Iterator[Local]:
    """As `make local` runs: the backend and the fan-out set the process's environment (restored after)."""
    saved = dict(os.environ)
    with (
        running_backend(table_name=TABLE, env=os.environ) as backend,
        running_fanout(backend, env=os.environ, subscriber_out=None) as (fanout, poller),
        running_fake_cmc_api() as (url, cmc),
    ):
        yield Local(backend, fanout, poller, url, cmc)
    os.environ.clear()
    os.environ.update(saved)


def as_api_row(record: dict[str, Any]) -> dict[str, Any]:
    """The event as the API answers it: created in UTC, messageId without <>, the code a number."""
    local = datetime.strptime(record["created"] + "+0900", "%Y-%m-%d %H:%M:%S%z")
    row = dict(record, created=local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    row["messageId"] = record["messageId"].strip("<>")
    if record["status"].isdigit():
        row["status"] = int(record["status"])
    return row


def test_a_partly_lost_day_is_complete_after_one_run_and_nothing_is_published_twice(local: Local) -> None:
    queued = load_fixture("seed_deliveries_queued")
    template = queued["event"]["deliveries"][0]
    deliveries = [dict(template, messageId=f"<m-{n}@example.com>") for n in range(3)]
    bounce = load_fixture("seed_bounces_user_unknown")
    received_bounce = bounce["event"]["bounces"][0]
    missed_bounce = dict(received_bounce, messageId="<missed@example.com>")
    # The webhook got two of three deliveries and one of two bounces
    local.post({**queued, "event": {"deliveries": deliveries[:2]}})
    local.post(bounce)
    local.settled()
    assert [event["detail"]["message_id"] for event in local.published()] == [
        "9e7e564c-ac83-8cd8-2cb4-b9ff2a9f168d@example.com"
    ]
    local.cmc.deliveries = [as_api_row(row) for row in deliveries]
    local.cmc.bounces = [as_api_row(received_bounce), as_api_row(missed_bounce)]

    first = local.reconcile()
    local.settled()
    published = local.published()
    again = local.reconcile("--always")
    local.settled()

    assert (first.returncode, first.stderr) == (0, "")
    [summary] = [json.loads(line) for line in first.stdout.splitlines()]
    assert (summary["date"], summary["fetched"], summary["written"], summary["already_stored"]) == (
        "2023-01-25",
        5,
        2,
        3,
    )
    assert summary["cmc_counts"]["queued"] == 3
    # Only the missed bounce is published; the one received by webhook was published once, before
    assert [event["detail"]["message_id"] for event in published] == ["missed@example.com"]
    assert (again.returncode, json.loads(again.stdout)["written"]) == (0, 0)
    assert local.published() == []


def test_an_api_error_fails_with_one_line_and_no_traceback(local: Local) -> None:
    result = local.reconcile(api_key="wrong")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "reconcile failed: 2023-01-25: statistics/list.json answered 401: 10001: authentication failed"
    ]
    assert json.loads(result.stdout)["date"] == "2023-01-25"


def test_a_wrong_table_is_named(local: Local) -> None:
    result = local.reconcile("--table", "nope")

    assert result.returncode == 1
    assert result.stderr.startswith(f"no table 'nope' at {local.backend.endpoint_url}"), result.stderr
