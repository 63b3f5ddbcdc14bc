"""The stage's storage levers (retention per class, what the recipient index holds), every combination,
against moto's server: lookups answer as with the levers off, the items carry the TTL of their class,
and the sparse index holds exactly what the suppression verdict reads."""

from __future__ import annotations

import copy
import itertools
import os
import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from cmc_dev.backend import LocalBackend, create_event_table
from cmc_webhooks import contract
from cmc_webhooks.dal.credentials import StaticCredentials
from cmc_webhooks.dal.dynamodb import DynamoDBEventStore
from cmc_webhooks.logic.auth import CredentialSet
from cmc_webhooks.logic.lookup import UNPROJECTED_FIELDS
from cmc_webhooks.settings import IngestSettings
from cmc_webhooks.wiring import ApiDependencies
from tests.conftest import SEED_FIXTURES, load_fixture
from tests.integration.conftest import DYNAMODB_BACKENDS, Api

FULL = "452 4.2.2 The email account that you tried to reach is over quota."
SOFT = "soft@example.jp"
HARD = "no-user@example.jp"
BLOCKED = "blocked@example.jp"
SEED = "user@example.jp"
V1_DEFERRED = "v1@example.jp"
ADDRESSES = (SOFT, HARD, BLOCKED, SEED)
RETENTION, CLEAN, QUARANTINE = 400, 30, 90


def api_with(backend: LocalBackend, **env: str) -> Api:
    """A fresh table whose recipient index is as `CMC_RECIPIENT_INDEX` says, and the function configured
    with `env`, open."""
    table_name = f"levers-{uuid.uuid4().hex[:12]}"
    settings = IngestSettings.from_env({**os.environ, "CMC_TABLE_NAME": table_name, **env})
    create_event_table(backend.dynamodb(), table_name, recipient_index=settings.recipient_index)
    dependencies = ApiDependencies.from_settings(settings, credentials=StaticCredentials(CredentialSet()))
    store = DynamoDBEventStore(table_name, client=backend.dynamodb())
    return Api(table_name=table_name, backend=backend, dependencies=replace(dependencies, store=store))


def record_of(fixture: str, **changes: str) -> dict[str, Any]:
    document = load_fixture(fixture)
    event_type = document["event_type"]
    record = dict(copy.deepcopy(document["event"][event_type][0]), **changes)
    return {**document, "event": {event_type: [record]}}


def corpus() -> list[dict[str, Any]]:
    """Every class of item: the seed, a block, a quarantined record, a v1 deferral, and three soft bounces
    cleared by a later success."""
    documents = [load_fixture(name) for name in SEED_FIXTURES]
    documents += [
        load_fixture("blocks"),
        load_fixture("batch_with_invalid_record"),
        load_fixture("v1_deliveries"),
    ]
    for day in (1, 2, 3):
        documents.append(
            record_of(
                "seed_bounces_user_unknown",
                to=SOFT,
                messageId=f"<soft-{day}@example.com>",
                created=f"2023-02-0{day} 10:00:00",
                reason=FULL,
                status="5",
            )
        )
    documents.append(
        record_of(
            "seed_deliveries_succeeded",
            to=SOFT,
            messageId="<soft-4@example.com>",
            created="2023-02-04 11:00:00",
        )
    )
    return documents


def message_ids(api: Api) -> list[str]:
    return sorted(
        {item["message_id"]["S"] for item in api.items()} - {i["message_id"]["S"] for i in quarantined(api)}
    )


def quarantined(api: Api) -> list[dict[str, Any]]:
    return [item for item in api.items() if item["sk"]["S"].startswith(contract.QUARANTINE_SORT_KEY_PREFIX)]


def answers(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each message's and each address's answer, but for when each event was received (two tables)."""
    messages = {mid: api.lookup(mid).body for mid in message_ids(api)}
    recipients = {address: api.call("GET", "/recipients/" + address).body for address in ADDRESSES}
    for answer in [*messages.values(), *recipients.values()]:
        for event in answer["events"]:
            del event["received_at"]
    return messages, recipients


COMBINATIONS = [
    pytest.param(
        index, clean, quarantine, clears, id=f"{index}-clean{clean}-quarantine{quarantine}-clears{clears}"
    )
    for index, clean, quarantine, clears in itertools.product(
        contract.RECIPIENT_INDEX_MODES, (None, CLEAN), (None, QUARANTINE), ("true", "false")
    )
]


@pytest.mark.parametrize(("index", "clean", "quarantine", "clears"), COMBINATIONS)
def test_every_combination_answers_as_the_levers_off_and_keeps_each_class_its_days(
    backend: LocalBackend, index: str, clean: int | None, quarantine: int | None, clears: str
) -> None:
    levers = {"CMC_RECIPIENT_INDEX": index, "CMC_RETENTION_DAYS": str(RETENTION)}
    levers |= {"CMC_CLEAN_RETENTION_DAYS": str(clean)} if clean else {}
    levers |= {"CMC_QUARANTINE_RETENTION_DAYS": str(quarantine)} if quarantine else {}
    baseline = api_with(backend, CMC_SUCCESS_CLEARS_SOFT_BOUNCES=clears)
    api = api_with(backend, CMC_SUCCESS_CLEARS_SOFT_BOUNCES=clears, **levers)
    for document in corpus():
        assert baseline.post_json(document).body == api.post_json(document).body

    messages, recipients = answers(api)
    expected_messages, expected_recipients = answers(baseline)

    # Message lookups read the table: the same in every combination.
    assert messages == expected_messages
    # The verdict is the same; the sparse index lists the events the verdict reads, with what it projects.
    for address, view in recipients.items():
        expected = expected_recipients[address]
        assert {k: view[k] for k in ("suppressed", "suppression_reason", "suppressed_since")} == {
            k: expected[k] for k in ("suppressed", "suppression_reason", "suppressed_since")
        }
        if index == contract.RECIPIENT_INDEX_ALL:
            assert view == expected
        else:
            read = [e for e in expected["events"] if reads(e, successes=clears == "true")]
            assert view["events"] == [dict(e, **dict.fromkeys(UNPROJECTED_FIELDS)) for e in read]
    assert expected_recipients[SOFT]["suppressed"] is (clears == "false")
    assert expected_recipients[BLOCKED]["suppression_reason"] == "blocked"

    # Each item expires after its class's days, counted from when it was received.
    for item in api.items():
        received = datetime.fromisoformat(item["received_at"]["S"])
        days = round((int(item[contract.TTL_ATTRIBUTE]["N"]) - received.timestamp()) / 86400)
        assert days == expected_days(item, clean=clean, quarantine=quarantine)


def reads(event: dict[str, Any], *, successes: bool) -> bool:
    """What the suppression verdict reads, as the published rule says (docs/data-model.md)."""
    return (
        event["event_type"] in {"bounces", "blocks"}
        or event["status"] == "failed"
        or (successes and event["status"] == "succeeded")
    )


def expected_days(item: dict[str, Any], *, clean: int | None, quarantine: int | None) -> int:
    if item["sk"]["S"].startswith(contract.QUARANTINE_SORT_KEY_PREFIX):
        return quarantine or RETENTION
    status = item.get("status", {}).get("S")
    soft_bounce = item.get("bounce_type", {}).get("S") == "soft" and status in {"bounced", "failed"}
    if status in {"queued", "deferred", "succeeded"} or soft_bounce:
        return clean or RETENTION
    return RETENTION


@pytest.fixture(params=DYNAMODB_BACKENDS)
def any_backend(request: pytest.FixtureRequest) -> LocalBackend:
    """moto's server, and AWS's DynamoDB Local where Java is present."""
    backend: LocalBackend = request.getfixturevalue(
        "backend" if request.param == "moto" else "dynamodb_local"
    )
    return backend


def test_the_sparse_index_holds_only_the_items_that_carry_its_key(any_backend: LocalBackend) -> None:
    api = api_with(any_backend, CMC_RECIPIENT_INDEX=contract.RECIPIENT_INDEX_SUPPRESSION)
    for document in corpus():
        assert api.post_json(document).status == 200
    keyed = {item["sk"]["S"] for item in api.items() if contract.RECIPIENT_INDEX_PARTITION_KEY in item}
    pages = (
        api.backend.dynamodb()
        .get_paginator("scan")
        .paginate(TableName=api.table_name, IndexName=contract.RECIPIENT_INDEX)
    )
    indexed = [item for page in pages for item in page["Items"]]

    assert {item["sk"]["S"] for item in indexed} == keyed
    # Each entry holds the keys and the projected attributes, nothing else.
    projected = {contract.PARTITION_KEY, contract.SORT_KEY, contract.RECIPIENT_INDEX_PARTITION_KEY}
    projected |= set(contract.SUPPRESSION_INDEX_ATTRIBUTES)
    assert all(set(item) <= projected for item in indexed)
    assert all("subject" not in item and "status" in item for item in indexed)
    assert {item["status"]["S"] for item in indexed} == {"bounced", "failed", "succeeded", "10"}
    # A queued item leaves out its recipient key: the table reads it back from the address.
    queued = [item for item in api.items() if item.get("status", {}).get("S") == "queued"]
    assert queued
    assert all(contract.RECIPIENT_INDEX_PARTITION_KEY not in item for item in queued)
    assert api.lookup("031a32d4-06cd-b1ae-9526-011c0b9f1296@example.com").body["recipients"][0]["status"] == (
        "succeeded"
    )
