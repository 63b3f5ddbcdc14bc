"""Inbound mail's adapters on moto and DynamoDB Local, and the inbound route through the handler."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cmc_dev.backend import LocalBackend
from cmc_webhooks import contract
from cmc_webhooks.dal.inbound import DynamoDBInboundStore, S3MailObjects
from cmc_webhooks.errors import StorageUnavailable
from cmc_webhooks.logic.inbound import build_inbound
from cmc_webhooks.logic.inbound_parse import parse_inbound
from cmc_webhooks.models.inbound import MailObject
from cmc_webhooks.wiring import InboundDependencies
from tests.conftest import load_fixture
from tests.inbound_samples import BINARY, fields, mail_headers, multipart
from tests.integration.conftest import DYNAMODB_BACKENDS, Api, api_for


@pytest.fixture(params=DYNAMODB_BACKENDS)
def api_client(request: pytest.FixtureRequest) -> Api:
    return api_for(request)


def inbound_on(api: Api, s3_backend: LocalBackend) -> tuple[Api, DynamoDBInboundStore, S3MailObjects]:
    """The API with inbound mail on this test's table (whichever DynamoDB) and moto's S3."""
    store = DynamoDBInboundStore(api.table_name, client=api.backend.dynamodb)
    objects = S3MailObjects(s3_backend.inbound_bucket, client=s3_backend.client("s3"))
    deps = replace(api.dependencies, inbound=InboundDependencies(store=store, objects=objects))
    return replace(api, dependencies=deps), store, objects


def test_an_item_is_written_once_and_read_back_and_a_message_with_events_is_found(
    api_client: Api, backend: LocalBackend
) -> None:
    api, store, _ = inbound_on(api_client, backend)
    body, content_type = multipart(fields(mail_headers()), [("a.bin", BINARY, "application/octet-stream")])
    post = parse_inbound(body.decode("latin-1"), is_base64=False, content_type=content_type)
    item, _ = build_inbound(
        post, inbound_id="f" * 32, bucket="b", received_at=datetime.now(UTC), retention=timedelta(days=1)
    )

    assert store.put_inbound(item) is True
    assert store.put_inbound(item) is False  # conditional: the second write changes nothing
    assert store.get_inbound("f" * 32) == item
    assert store.get_inbound("e" * 32) is None
    assert api.post_json(load_fixture("seed_deliveries_succeeded")).status == 200
    sent = load_fixture("seed_deliveries_succeeded")["event"]["deliveries"][0]["messageId"].strip("<>")
    assert store.has_events(sent) is True
    assert store.has_events("unknown@example.com") is False


def test_a_post_larger_than_the_limit_with_base64_is_a_413_and_stores_nothing(
    api_client: Api, backend: LocalBackend
) -> None:
    api, _, objects = inbound_on(api_client.configured(CMC_MAX_BODY_BYTES="4096"), backend)
    body, content_type = multipart(
        fields(mail_headers("big@example.jp")), [("big.bin", b"\xff" * 2000, "x/y")]
    )
    assert len(body) < 4096  # only base64 takes it past the limit

    reply = api.call("POST", contract.INBOUND_WEBHOOK_PATH, body, content_type)

    assert reply.status == 413
    assert reply.body["error"] == "payload_too_large"
    assert "base64" in reply.body["message"]
    items = [item for item in api.items() if item[contract.SORT_KEY]["S"] == contract.INBOUND_SORT_KEY]
    assert items == []
    listed = objects.client.list_objects_v2(Bucket=objects.bucket, Prefix="inbound/")
    assert not any("big" in obj["Key"] for obj in listed.get("Contents", []))


def test_an_object_store_that_refuses_is_storage_unavailable(backend: LocalBackend) -> None:
    objects = S3MailObjects("no-such-bucket-anywhere", client=backend.client("s3"))
    with pytest.raises(StorageUnavailable, match="try again"):
        objects.put_objects([MailObject("inbound/x/headers.json", b"[]", "application/json")])


def test_a_mail_leaves_a_metrics_line_and_no_personal_data_in_the_output(
    api_client: Api,
    backend: LocalBackend,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    api, _, _ = inbound_on(api_client, backend)
    body, content_type = multipart(
        fields(mail_headers("private-0001@example.jp")), [("秘密の見積書.pdf", BINARY, "application/pdf")]
    )
    capsys.readouterr()

    reply = api.call("POST", contract.INBOUND_WEBHOOK_PATH, body, content_type)

    assert reply.status == 200
    output = capsys.readouterr().out + "".join(record.getMessage() for record in caplog.records)
    for private in ("taro@example.jp", "support@example.com", "お問い合わせ", "秘密の見積書", "private-0001"):
        assert private not in output
    [blob] = [json.loads(line) for line in output.splitlines() if '"InboundReceived"' in line]
    assert (blob["InboundReceived"], blob["InboundDuplicated"]) == ([1.0], [0.0])
    assert (blob["inbound_id"], blob["mail_kind"]) == (reply.body["inbound_id"], "reply")
    assert blob["request_id"]
