from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from botocore.config import Config

from cmc_dev.gateway import rest_proxy_event
from cmc_dev.lambda_context import LocalLambdaContext
from cmc_webhooks import contract
from cmc_webhooks.dal.dynamodb import DynamoDBEventStore
from cmc_webhooks.errors import StorageUnavailable
from cmc_webhooks.handlers import api
from tests.conftest import SEED_FIXTURES, load_fixture
from tests.integration.conftest import DYNAMODB_BACKENDS, Api, api_for
from tests.unit.memory_store import MemoryStore

WEBHOOK = contract.WEBHOOK_PATH
SEED_MESSAGE = "031a32d4-06cd-b1ae-9526-011c0b9f1296@example.com"
FAILED_MESSAGE = "9e7e564c-ac83-8cd8-2cb4-b9ff2a9f168d@example.com"


@pytest.fixture(params=DYNAMODB_BACKENDS)
def api_client(request: pytest.FixtureRequest) -> Api:
    """These tests run against moto and against AWS's DynamoDB Local."""
    return api_for(request)


def as_form(document: dict[str, Any]) -> str:
    return urlencode(
        {
            "event_type": document["event_type"],
            "server_composition": document["server_composition"],
            "event": json.dumps(document["event"], ensure_ascii=False),
        }
    )


def test_the_seed_webhooks_are_stored_and_the_message_history_shows_the_right_status(api_client: Api) -> None:
    # Given every payload of the seed article, in the order CMC sent them
    for name in SEED_FIXTURES:
        reply = api_client.post_json(load_fixture(name))
        assert reply.status == 200, reply.body
        assert reply.body == {
            "received": 1,
            "written": 1,
            "duplicates": 0,
            "quarantined": 0,
            "unrecognized": 0,
        }

    # When the delivered message is looked up, with its brackets
    reply = api_client.lookup(f"<{SEED_MESSAGE}>")

    # Then its history is time-ordered and its recipient succeeded
    assert reply.status == 200
    assert reply.body["message_id"] == SEED_MESSAGE
    assert [e["status"] for e in reply.body["events"]] == ["queued", "succeeded"]
    assert reply.body["recipients"] == [
        {"address": "user@example.jp", "status": "succeeded", "updated_at": "2023-01-25T14:03:09+09:00"}
    ]
    first = reply.body["events"][0]
    for key in ("event_type", "status", "occurred_at", "recipient", "reason", "api_data", "subject"):
        assert key in first
    assert first["subject"] == "メールマガジンのテスト"
    assert first["server_composition"] == "pro"

    # And the failed-then-bounced message reads as bounced, without brackets too
    bounced = api_client.lookup(FAILED_MESSAGE)
    assert bounced.body["recipients"][0]["status"] == "bounced"
    assert [e["event_type"] for e in bounced.body["events"]] == ["deliveries", "bounces"]
    assert bounced.body["events"][1]["bounce_code"] == "2"


def test_every_item_has_the_contract_keys_and_a_ttl(api_client: Api) -> None:
    api_client.post_json(load_fixture("seed_deliveries_queued"))
    [item] = api_client.items()
    assert item[contract.PARTITION_KEY] == {"S": SEED_MESSAGE}
    assert item[contract.SORT_KEY]["S"].startswith(contract.EVENT_SORT_KEY_PREFIX)
    assert item[contract.RECIPIENT_INDEX_PARTITION_KEY] == {"S": "user@example.jp"}
    assert int(item[contract.TTL_ATTRIBUTE]["N"]) > 0


def test_a_plain_dynamodb_query_on_the_message_id_finds_its_events(api_client: Api) -> None:
    for name in SEED_FIXTURES:
        api_client.post_json(load_fixture(name))
    response = api_client.backend.dynamodb().query(
        TableName=api_client.table_name,
        KeyConditionExpression="message_id = :id",
        ExpressionAttributeValues={":id": {"S": SEED_MESSAGE}},
    )
    assert [item["status"]["S"] for item in response["Items"]] == ["queued", "succeeded"]


def test_recipient_index_lists_a_recipients_events_newest_first(api_client: Api) -> None:
    for name in SEED_FIXTURES:
        api_client.post_json(load_fixture(name))
    response = api_client.backend.dynamodb().query(
        TableName=api_client.table_name,
        IndexName=contract.RECIPIENT_INDEX,
        KeyConditionExpression="recipient_key = :r",
        ExpressionAttributeValues={":r": {"S": "no-user@example.jp"}},
        ScanIndexForward=False,
    )
    assert [item["status"]["S"] for item in response["Items"]] == ["bounced", "failed"]


def test_json_form_and_base64_bodies_of_one_record_store_it_once(api_client: Api) -> None:
    document = load_fixture("seed_deliveries_succeeded")
    form = as_form(document)
    form_type = "application/x-www-form-urlencoded; charset=UTF-8"

    replies = [
        api_client.call("POST", WEBHOOK, form, form_type),
        api_client.call("POST", WEBHOOK, form, form_type, as_base64=True),
        api_client.call("POST", WEBHOOK, json.dumps(document), "application/json", as_base64=True),
        api_client.post_json(document),
    ]

    assert [reply.status for reply in replies] == [200, 200, 200, 200]
    assert [reply.body["written"] for reply in replies] == [1, 1, 1, 1]
    assert len(api_client.items()) == 1


def test_a_webhook_posted_twice_is_stored_once(api_client: Api) -> None:
    document = load_fixture("v1_deliveries")
    assert api_client.post_json(document).body["written"] == 2
    assert api_client.post_json(document).status == 200
    assert len(api_client.items()) == 2


def test_out_of_order_arrival_still_gives_the_right_status(api_client: Api) -> None:
    for name in reversed(SEED_FIXTURES):
        api_client.post_json(load_fixture(name))
    reply = api_client.lookup(SEED_MESSAGE)
    assert [e["status"] for e in reply.body["events"]] == ["queued", "succeeded"]
    assert reply.body["recipients"][0]["status"] == "succeeded"


def test_an_invalid_record_is_quarantined_and_the_rest_stored(api_client: Api) -> None:
    reply = api_client.post_json(load_fixture("batch_with_invalid_record"))

    assert reply.status == 200
    assert reply.body == {"received": 3, "written": 2, "duplicates": 0, "quarantined": 1, "unrecognized": 0}
    items = api_client.items()
    [quarantined] = [item for item in items if item["sk"]["S"].startswith("QUARANTINE#")]
    assert quarantined["message_id"]["S"].startswith(contract.QUARANTINE_PARTITION_PREFIX)
    assert "created" in quarantined["error"]["S"]
    assert api_client.lookup("ok-1@example.com").status == 200


def test_blocks_and_unknown_fields_are_kept_and_counted(
    api_client: Api, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    reply = api_client.post_json(load_fixture("blocks"))

    assert reply.status == 200
    assert reply.body["unrecognized"] == 1
    history = api_client.lookup("blk-0001@example.com").body
    assert history["events"][0]["event_type"] == "blocks"
    assert history["events"][0]["raw"]["blockedBy"] == "list"
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any(
        blob.get("RecordsUnrecognized") == [1.0] or blob.get("RecordsUnrecognized") == 1.0 for blob in emitted
    )
    # Something to look at: a log line too, with the counts.
    [logged] = [line for line in caplog.records if line.getMessage() == "webhook stored with exceptions"]
    assert (logged.event_type, logged.unrecognized) == ("blocks", 1)  # type: ignore[attr-defined]


def request_metrics(output: str) -> list[dict[str, Any]]:
    """The request's metrics lines (CloudWatch EMF) in the output, not a first request's ColdStart line."""
    blobs = [json.loads(line) for line in output.splitlines() if '"_aws"' in line]
    return [blob for blob in blobs if "RecordsReceived" in blob]


def test_a_clean_webhook_emits_every_record_count_and_no_log_line(
    api_client: Api, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    capsys.readouterr()
    reply = api_client.post_json(load_fixture("seed_deliveries_queued"))

    assert reply.status == 200
    [blob] = request_metrics(capsys.readouterr().out)
    counts = {name: blob[name] for name in blob if name.startswith("Records")}
    assert counts == {
        contract.Metric.RECORDS_RECEIVED: [1.0],
        contract.Metric.RECORDS_WRITTEN: [1.0],
        contract.Metric.RECORDS_DUPLICATED: [0.0],
        contract.Metric.RECORDS_QUARANTINED: [0.0],
        contract.Metric.RECORDS_UNRECOGNIZED: [0.0],
        contract.Metric.RECORDS_WITH_UNKNOWN_FIELDS: [0.0],
    }
    # The request's trace in the log is its metrics line: the event type and the request id, no log line.
    assert blob["event_type"] == "deliveries"
    assert blob["request_id"]
    assert [record.getMessage() for record in caplog.records if record.name == contract.SERVICE_NAME] == []


def test_log_lines_carry_the_api_gateway_request_id_as_their_correlation_id(
    api_client: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(2):  # a new id for each request
        capsys.readouterr()
        assert api_client.post_json(load_fixture("seed_deliveries_queued")).status == 200
        [blob] = request_metrics(capsys.readouterr().out)

        assert api.logger.get_current_keys()["correlation_id"] == blob["request_id"]


@pytest.mark.parametrize("request_context", [None, "not an object"])
def test_an_event_without_a_usable_request_context_is_answered_not_crashed(
    api_client: Api, request_context: Any
) -> None:
    # A direct or console invoke, not API Gateway: no request id to correlate, and still an answer.
    event = rest_proxy_event(method="GET", target="/nope", headers=[], body=b"", source_ip="127.0.0.1")
    event["requestContext"] = request_context

    reply = api.make_handler(lambda: api_client.dependencies)(event, LocalLambdaContext())

    assert reply["statusCode"] == 404
    assert api.logger.get_current_keys().get("correlation_id") is None


def test_the_metrics_line_names_a_cmc_event_type_and_any_other_text_only_as_other(
    api_client: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    document = load_fixture("seed_deliveries_queued")
    for sent, logged in (("deliveries", "deliveries"), ("someone@example.jp", "other")):
        document["event_type"] = sent
        capsys.readouterr()
        assert api_client.post_json(document).status == 200
        [blob] = request_metrics(capsys.readouterr().out)
        assert blob["event_type"] == logged


def test_a_thousand_records_in_one_request_are_all_stored(api_client: Api) -> None:
    template = load_fixture("seed_deliveries_queued")["event"]["deliveries"][0]
    records = [dict(template, messageId=f"<bulk-{n}@example.com>") for n in range(1000)]
    reply = api_client.post_json(
        {"event_type": "deliveries", "server_composition": "pro", "event": {"deliveries": records}}
    )
    assert reply.status == 200
    assert reply.body["written"] == 1000
    assert len(api_client.items()) == 1000


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("", "application/json", 400, "invalid_envelope"),
        ("not json", "application/json", 400, "invalid_envelope"),
        ('{"event_type": "deliveries"}', "application/json", 400, "invalid_envelope"),
        ('{"event_type": "deliveries", "event": []}', "application/json", 400, "invalid_envelope"),
        ('{"event_type": "deliveries", "event": {}}', "application/json", 400, "invalid_envelope"),
        ("event_type=deliveries", "application/x-www-form-urlencoded", 400, "invalid_envelope"),
        ("hello", "text/plain", 415, "unsupported_media_type"),
    ],
)
def test_a_broken_envelope_gets_a_json_4xx_and_stores_nothing(
    api_client: Api, body: str, content_type: str, status: int, code: str
) -> None:
    reply = api_client.call("POST", WEBHOOK, body, content_type)
    assert reply.status == status
    assert reply.body["error"] == code
    assert reply.body["message"]
    assert api_client.items() == []


def test_unknown_message_is_a_json_404(api_client: Api) -> None:
    reply = api_client.lookup("<nobody@example.com>")
    assert reply.status == 404
    assert reply.body["error"] == "message_not_found"


def test_when_the_store_refuses_the_answer_is_503_never_200(api_client: Api) -> None:
    class RefusingStore(MemoryStore):
        def write(self, items: object) -> None:
            raise StorageUnavailable("the event store refused the write; try again")

    reply = api_client.with_store(RefusingStore()).post_json(load_fixture("seed_deliveries_queued"))
    assert reply.status == 503
    assert reply.body["error"] == "storage_unavailable"


def test_when_dynamodb_is_unreachable_the_answer_is_503(api_client: Api) -> None:
    unreachable = boto3.client(
        "dynamodb",
        endpoint_url="http://127.0.0.1:9",  # the discard port: nothing listens there
        config=Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=1),
    )
    store = DynamoDBEventStore(api_client.table_name, client=unreachable)
    reply = api_client.with_store(store).post_json(load_fixture("seed_deliveries_queued"))

    assert reply.status == 503
    assert reply.body["error"] == "storage_unavailable"


@pytest.mark.parametrize(("records", "writes"), [(1, 1), (100, 4), (1000, 40)])
def test_a_webhook_costs_ceil_n_over_25_batch_writes_and_no_reads(
    api_client: Api, records: int, writes: int
) -> None:
    calls: list[str] = []
    store = api_client.dependencies.store
    assert isinstance(store, DynamoDBEventStore)
    store.client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
    template = load_fixture("seed_deliveries_queued")["event"]["deliveries"][0]
    document = {
        "event_type": "deliveries",
        "server_composition": "pro",
        "event": {
            "deliveries": [dict(template, messageId=f"<cost-{n}@example.com>") for n in range(records)]
        },
    }

    assert api_client.post_json(document).status == 200

    assert calls == ["BatchWriteItem"] * writes


def test_recipient_lookup_lists_events_newest_first_and_compares_domains_case_insensitively(
    api_client: Api,
) -> None:
    for name in SEED_FIXTURES:
        api_client.post_json(load_fixture(name))
    api_client.post_json(load_fixture("blocks"))

    reply = api_client.call("GET", "/recipients/no-user%40EXAMPLE.JP")
    assert reply.status == 200
    assert reply.body["address"] == "no-user@example.jp"
    assert [e["status"] for e in reply.body["events"]] == ["bounced", "failed"]

    blocked = api_client.call("GET", "/recipients/blocked@example.jp").body
    assert (blocked["suppressed"], blocked["suppression_reason"]) == (True, "blocked")
    assert blocked["suppressed_since"] == "2023-03-01T10:00:00+09:00"

    unknown = api_client.call("GET", "/recipients/nobody@example.jp")
    assert (unknown.status, unknown.body["suppressed"], unknown.body["events"]) == (200, False, [])


def bounce_of(recipient: str, n: int, day: int, reason: str, code: str) -> dict[str, Any]:
    template = load_fixture("seed_bounces_user_unknown")["event"]["bounces"][0]
    record = dict(
        template,
        to=recipient,
        messageId=f"<seq-{n}@example.com>",
        created=f"2023-02-{day:02d} 10:00:00",
        reason=reason,
        status=code,
    )
    return {"event_type": "bounces", "server_composition": "pro", "event": {"bounces": [record]}}


def delivered(recipient: str, n: int, day: int) -> dict[str, Any]:
    template = load_fixture("seed_deliveries_succeeded")["event"]["deliveries"][0]
    record = dict(
        template, to=recipient, messageId=f"<seq-{n}@example.com>", created=f"2023-02-{day:02d} 11:00:00"
    )
    return {"event_type": "deliveries", "server_composition": "pro", "event": {"deliveries": [record]}}


FULL = "452 4.2.2 The email account that you tried to reach is over quota."
UNKNOWN = "550 5.1.1 <x@example.jp>: Recipient address rejected: User unknown"


@pytest.mark.parametrize(
    ("sequence", "suppressed", "reason"),
    [
        pytest.param([("bounce", 1, UNKNOWN, "2")], True, "hard_bounce:user_unknown", id="hard-bounce"),
        pytest.param(
            [("bounce", 1, FULL, "5"), ("bounce", 2, FULL, "5"), ("bounce", 3, FULL, "5")],
            True,
            "soft_bounces:3_in_7_days",
            id="three-soft-bounces",
        ),
        pytest.param(
            [("bounce", 1, FULL, "5"), ("bounce", 2, FULL, "5")], False, None, id="two-soft-bounces"
        ),
        pytest.param(
            [
                ("bounce", 1, FULL, "5"),
                ("bounce", 2, FULL, "5"),
                ("bounce", 3, FULL, "5"),
                ("delivered", 4, "", ""),
            ],
            False,
            None,
            id="soft-then-success",
        ),
        pytest.param(
            [("bounce", 1, UNKNOWN, "2"), ("delivered", 4, "", "")],
            True,
            "hard_bounce:user_unknown",
            id="hard-then-success",
        ),
    ],
)
def test_recipient_suppression_after_sequences(
    api_client: Api, sequence: list[tuple[str, int, str, str]], suppressed: bool, reason: str | None
) -> None:
    recipient = "Seq.User@Example.JP"
    for n, (kind, day, text, code) in enumerate(sequence):
        document = (
            bounce_of(recipient, n, day, text, code) if kind == "bounce" else delivered(recipient, n, day)
        )
        assert api_client.post_json(document).status == 200

    view = api_client.call("GET", "/recipients/Seq.User%40example.jp").body

    assert (view["suppressed"], view["suppression_reason"]) == (suppressed, reason)
    assert view["address"] == "Seq.User@example.jp"
    assert len(view["events"]) == len(sequence)
    bounces = [e for e in view["events"] if e["event_type"] == "bounces"]
    assert all(e["classification"]["bounce_type"] in {"hard", "soft"} for e in bounces)


def test_hostile_records_cost_nothing_beside_them_and_everything_stored_reads_back(api_client: Api) -> None:
    # Given a webhook whose records hold what JSON allows and UTF-8 or DynamoDB does not.
    template = load_fixture("seed_deliveries_queued")["event"]["deliveries"][0]
    records = [
        dict(template, messageId="<plain@example.com>"),
        dict(template, messageId="<surrogate@example.com>", subject="bad \ud800 text", **{"x\udfff": "y"}),
        dict(template, messageId="<year-one@example.com>", created="0001-01-01 00:00:00"),
        dict(template, messageId="<huge@example.com>", reason="x" * 300_000),
        dict(template, messageId="<" + "m" * 3000 + "@example.com>"),
    ]
    body = json.dumps(
        {"event_type": "deliveries", "event": {"deliveries": records}}
    )  # escapes, as JSON allows

    # When it is posted.
    reply = api_client.call("POST", WEBHOOK, body, "application/json")

    # Then the good records are stored, the others quarantined, and every lookup answers strict JSON.
    assert reply.status == 200, reply.body
    assert (reply.body["written"], reply.body["quarantined"]) == (2, 3)
    repaired = api_client.lookup("<surrogate@example.com>")
    assert repaired.status == 200
    [event] = repaired.body["events"]
    assert event["subject"] == "bad \ufffd text"
    assert event["extra_fields"] == {"x\ufffd": "y"}
    assert api_client.lookup("<plain@example.com>").status == 200
    assert len(api_client.items()) == 5
