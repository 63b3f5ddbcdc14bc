"""End to end: inbound mail posted to `make local`'s server, over real HTTP on loopback, out as
`Email Received` on the local subscriber, its objects fetched back from the local S3."""

from __future__ import annotations

import hashlib
import json
import re
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmc_dev.backend import LOCAL_INBOUND_BUCKET, LOCAL_REGION, LocalBackend
from cmc_webhooks import contract
from tests.conftest import fixture_text, load_fixture
from tests.e2e.test_fuzz import ERROR_STATUSES
from tests.e2e.test_local_server import LocalServer, launch, stop
from tests.inbound_samples import (
    BINARY,
    JAPANESE_FILENAME,
    JAPANESE_SUBJECT,
    JAPANESE_TEXT,
    fields,
    json_mail,
    mail_headers,
    multipart,
)

EVENT_WAIT_SECONDS = 30
SENT = load_fixture("seed_deliveries_succeeded")["event"]["deliveries"][0]
OUR_MESSAGE = SENT["messageId"].strip("<>")


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    started = launch({})
    yield started
    stop(started)


def s3_client(server: LocalServer) -> Any:
    match = re.search(r"moto at (http://127\.0\.0\.1:\d+)", server.banner)
    assert match, server.banner
    return boto3.client(
        "s3",
        endpoint_url=match.group(1),
        region_name=LOCAL_REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def received_events(server: LocalServer, inbound_id: str) -> list[dict[str, Any]]:
    return [
        event["detail"]
        for event in server.subscriber_events()
        if event["detail-type"] == "Email Received" and event["detail"]["inbound_id"] == inbound_id
    ]


def wait_for_received(server: LocalServer, inbound_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + EVENT_WAIT_SECONDS
    while time.monotonic() < deadline:
        if found := received_events(server, inbound_id):
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no Email Received for {inbound_id}:\n{server.output.text()[-3000:]}")


def test_a_reply_with_two_attachments_comes_out_as_one_event_whose_pointers_fetch_the_exact_bytes(
    server: LocalServer,
) -> None:
    status, _ = server.request(
        "POST", "/webhooks/events", fixture_text("seed_deliveries_succeeded").encode(), "application/json"
    )
    assert status == 200
    body, content_type = multipart(
        fields(mail_headers(In_Reply_To=f"<{OUR_MESSAGE}>")),
        [(JAPANESE_FILENAME, JAPANESE_TEXT, "text/plain"), ("data.bin", BINARY, "application/octet-stream")],
    )

    status, answer = server.request("POST", "/webhooks/inbound", body, content_type)

    assert status == 200, answer
    assert (answer["stored"], answer["attachments"]) == (True, 2)
    detail = wait_for_received(server, answer["inbound_id"])
    assert detail["subject"] == JAPANESE_SUBJECT
    assert (detail["kind"], detail["related_message_id"]) == ("reply", OUR_MESSAGE)
    s3 = s3_client(server)
    for pointer, original in zip(detail["attachments"], [JAPANESE_TEXT, BINARY], strict=True):
        assert pointer["bucket"] == LOCAL_INBOUND_BUCKET
        fetched = s3.get_object(Bucket=pointer["bucket"], Key=pointer["key"])["Body"].read()
        assert (
            hashlib.sha256(fetched).hexdigest() == pointer["sha256"] == hashlib.sha256(original).hexdigest()
        )
    assert [pointer["filename"] for pointer in detail["attachments"]] == [JAPANESE_FILENAME, "data.bin"]
    text = detail["body"]["text"]
    assert (
        s3.get_object(Bucket=text["bucket"], Key=text["key"])["Body"].read().decode()
        == "お世話になっております。"
    )

    # A repeat post is answered as a duplicate and publishes nothing: the next mail's event arrives alone.
    status, again = server.request("POST", "/webhooks/inbound", body, content_type)
    assert (status, again["inbound_id"], again["duplicate"]) == (200, answer["inbound_id"], True)
    status, other = server.request(
        "POST", "/webhooks/inbound", json_mail(mail_headers("json-0001@example.jp")), "application/json"
    )
    assert status == 200, other
    json_detail = wait_for_received(server, other["inbound_id"])
    assert len(received_events(server, answer["inbound_id"])) == 1
    # The JSON form: the same fields, no attachments.
    assert (json_detail["subject"], json_detail["attachments"]) == (JAPANESE_SUBJECT, [])
    assert json_detail["message_id"] == "json-0001@example.jp"


def test_the_lookup_answers_presigned_urls_of_the_exact_bytes(server: LocalServer) -> None:
    body, content_type = multipart(
        fields(mail_headers("lookup-0001@example.jp")), [("データ.bin", BINARY, "application/octet-stream")]
    )
    status, answer = server.request("POST", "/webhooks/inbound", body, content_type)
    assert status == 200, answer

    status, view = server.request("GET", f"/inbound/{answer['inbound_id']}")

    assert status == 200, view
    assert view["subject"] == JAPANESE_SUBJECT
    (attachment,) = view["attachments"]
    assert attachment["filename"] == "データ.bin"
    with urllib.request.urlopen(attachment["url"], timeout=10) as response:
        assert response.read() == BINARY
    status, missing = server.request("GET", "/inbound/" + "0" * 32)
    assert (status, missing["error"]) == (404, "message_not_found")


def test_bad_mail_gets_a_4xx_naming_the_field(server: LocalServer) -> None:
    body, content_type = multipart(fields(mail_headers()) | {"attachments": "2"}, [])
    status, answer = server.request("POST", "/webhooks/inbound", body, content_type)
    assert (status, answer["error"]) == (400, "invalid_envelope")
    assert "`attachments`" in answer["message"]


def test_the_event_webhook_still_reads_multipart_and_form_bodies_through_the_gateway(
    server: LocalServer,
) -> None:
    # multipart/form-data is now a binary media type (base64 to the function); forms stay text.
    document = json.loads(fixture_text("seed_deliveries_queued"))
    record = document["event"]["deliveries"][0]
    record["messageId"], record["subject"] = "<multipart-event@example.com>", "件名のテスト"
    body, content_type = multipart(
        {"event_type": "deliveries", "server_composition": "pro", "event": json.dumps(document["event"])}, []
    )
    status, answer = server.request("POST", "/webhooks/events", body, content_type)
    assert (status, answer["written"]) == (200, 1), answer
    status, history = server.request("GET", "/messages/multipart-event@example.com")
    assert status == 200
    assert history["events"][0]["subject"] == "件名のテスト"


@pytest.fixture(scope="module")
def backend(server: LocalServer) -> LocalBackend:
    table, endpoint = re.findall(r"--table (\S+) --endpoint-url (\S+)", server.banner)[0]
    return LocalBackend(endpoint_url=endpoint, table_name=table)


def inbound_items(backend: LocalBackend) -> int:
    """Inbound mail items only: the local stream consumers write items of their own, when they will."""
    pages = (
        backend.dynamodb()
        .get_paginator("scan")
        .paginate(
            TableName=backend.table_name,
            Select="COUNT",
            FilterExpression="#sk = :inbound",
            ExpressionAttributeNames={"#sk": contract.SORT_KEY},
            ExpressionAttributeValues={":inbound": {"S": contract.INBOUND_SORT_KEY}},
        )
    )
    return sum(page["Count"] for page in pages)


def stored_objects(server: LocalServer) -> int:
    pages = s3_client(server).get_paginator("list_objects_v2").paginate(Bucket=LOCAL_INBOUND_BUCKET)
    return sum(page.get("KeyCount", 0) for page in pages)


# Mail-shaped and shapeless bodies: fields that are missing, of the wrong type, miscounted or garbled.
headers_values = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.lists(
        st.fixed_dictionaries(
            {"name": st.sampled_from(["Message-ID", "In-Reply-To", "Subject"]), "value": st.text(max_size=20)}
        ),
        max_size=3,
    ),
    st.lists(st.integers() | st.text(max_size=5), max_size=2),
)
mail_documents = st.fixed_dictionaries(
    {"headers": headers_values},
    optional={
        "subject": st.text(max_size=20) | st.integers(),
        "text": st.text(max_size=20),
        "envelope-to": st.text(max_size=20),
        "attachments": st.integers(-1, 2) | st.text(max_size=3),
    },
)
raw_bodies = st.one_of(
    st.binary(max_size=300),
    mail_documents.map(lambda document: ("application/json", json.dumps(document).encode())),
    st.tuples(mail_documents, st.lists(st.binary(max_size=50), max_size=2)).map(
        lambda pair: multipart_of(*pair)
    ),
)


def multipart_of(document: dict[str, Any], files: list[bytes]) -> tuple[str, bytes]:
    text = {name: value if isinstance(value, str) else json.dumps(value) for name, value in document.items()}
    body, content_type = multipart(
        text, [(f"f{n}", data, "application/octet-stream") for n, data in enumerate(files)]
    )
    return content_type, body


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    case=raw_bodies, content_type=st.sampled_from(["multipart/form-data; boundary=x", "application/json", ""])
)
def test_raw_mail_gets_json_answers_and_nothing_half_stored(
    backend: LocalBackend, server: LocalServer, case: bytes | tuple[str, bytes], content_type: str
) -> None:
    if isinstance(case, tuple):
        content_type, body = case
    else:
        body = case
    objects_before, items_before = stored_objects(server), inbound_items(backend)

    status, payload = server.request("POST", contract.INBOUND_WEBHOOK_PATH, body, content_type)

    items = inbound_items(backend) - items_before
    assert status in {200} | ERROR_STATUSES, payload
    if status != 200:
        assert payload["error"]
        assert (items, stored_objects(server)) == (0, objects_before)
    else:  # stored once: a new item with its objects, or a duplicate adding nothing
        assert items == (0 if payload["duplicate"] else 1)
