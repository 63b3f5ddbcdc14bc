"""The CLI's pages as a user walks them: --limit, --cursor, --all (JSON lines) and api-data."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cmc_dev.backend import LocalBackend, running_backend
from cmc_webhooks.dal.dynamodb import DynamoDBEventStore
from cmc_webhooks.logic.ingest import IngestOptions, build_batch, parse_envelope
from cmc_webhooks.settings import parse_time_zone
from tests.conftest import load_fixture
from tests.e2e.test_cli import cli

TABLE = "cli-pages"
RECIPIENTS = 5


@pytest.fixture(scope="module")
def backend() -> Iterator[LocalBackend]:
    with running_backend(table_name=TABLE, env={}) as started:
        template = load_fixture("seed_deliveries_succeeded")["event"]["deliveries"][0]
        records = []
        for n in range(RECIPIENTS):
            for status, second in (("queued", 0), ("succeeded", 1)):
                record = copy.deepcopy(template)
                record.update(
                    messageId="<m@example.com>",
                    to=f"user{n}@example.jp",
                    status=status,
                    created=f"2026-01-01 00:00:0{second}",
                    apiData="campaign-1",
                )
                records.append(record)
        document = {"event_type": "deliveries", "server_composition": "pro", "event": {"deliveries": records}}
        options = IngestOptions(
            time_zone=parse_time_zone("Asia/Tokyo"), retention=timedelta(days=1), max_records=100
        )
        batch = build_batch(parse_envelope(document), options=options, received_at=datetime.now(UTC))
        DynamoDBEventStore(TABLE, client=started.dynamodb()).write(batch.items)
        yield started


def run(backend: LocalBackend, *argv: str) -> list[dict[str, Any]]:
    result = cli(*argv, "--table", TABLE, "--endpoint-url", backend.endpoint_url)
    assert (result.returncode, result.stderr) == (0, "")
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_all_walks_every_page_one_json_line_each(backend: LocalBackend) -> None:
    pages = run(backend, "message", "<m@example.com>", "--limit", "3", "--all")

    assert len(pages) == 4
    events = [event for page in pages for event in page["events"]]
    assert len(events) == 2 * RECIPIENTS
    assert [page["next_cursor"] is None for page in pages] == [False, False, False, True]


def test_one_page_then_the_next_from_its_cursor(backend: LocalBackend) -> None:
    result = cli(
        "message", "m@example.com", "--limit", "4", "--table", TABLE, "--endpoint-url", backend.endpoint_url
    )
    first = json.loads(result.stdout)  # one page, indented
    assert len(first["events"]) == 4

    rest = run(backend, "message", "m@example.com", "--limit", "4", "--cursor", first["next_cursor"], "--all")

    assert sum(len(page["events"]) for page in rest) == 2 * RECIPIENTS - 4


def test_api_data_lists_the_messages_carrying_it(backend: LocalBackend) -> None:
    pages = run(backend, "api-data", "campaign-1", "--limit", "2", "--all")

    statuses = [
        (message["message_id"], status["status"])
        for page in pages
        for message in page["messages"]
        for status in message["recipients"]
    ]
    assert statuses == [("m@example.com", "succeeded")] * RECIPIENTS


def test_a_changed_cursor_or_a_bad_limit_is_one_line(backend: LocalBackend) -> None:
    where = ("--table", TABLE, "--endpoint-url", backend.endpoint_url)

    changed = cli("recipient", "user0@example.jp", "--cursor", "abc.def", *where)
    bad_limit = cli("api-data", "campaign-1", "--limit", "0", *where)

    assert (changed.returncode, changed.stdout) == (1, "")
    assert changed.stderr.startswith("invalid_query: cursor: not one this API issued")
    assert (bad_limit.returncode, bad_limit.stdout) == (1, "")
    assert bad_limit.stderr.startswith("invalid_query: limit:")
