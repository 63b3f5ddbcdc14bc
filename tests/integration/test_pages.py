"""The paged lookups through the handler, on moto and on DynamoDB Local: the adapter's queries, cursors
and the sparse apiData index as DynamoDB runs them."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from cmc_webhooks import contract
from tests.conftest import load_fixture
from tests.integration.conftest import DYNAMODB_BACKENDS, Api, Reply, api_for

RECIPIENTS = 600


@pytest.fixture(params=DYNAMODB_BACKENDS)
def api_client(request: pytest.FixtureRequest) -> Api:
    return api_for(request)


def records(message: str, status: str, minute: int, api_data: str = "") -> list[dict[str, Any]]:
    template = load_fixture("seed_deliveries_succeeded")["event"]["deliveries"][0]
    made = []
    for n in range(RECIPIENTS):
        found = copy.deepcopy(template)
        found.update(
            messageId=f"<{message}@example.com>",
            to=f"user{n:04d}@example.jp",
            status=status,
            created=f"2026-01-01 00:{minute:02d}:00",
            apiData=api_data,
        )
        made.append(found)
    return made


def post(api: Api, event_type: str, found: list[dict[str, Any]]) -> None:
    document = {"event_type": event_type, "server_composition": "pro", "event": {event_type: found}}
    assert api.post_json(document).status == 200


def walk(api: Api, path: str, query: dict[str, str]) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        reply = api.call("GET", f"{path}?{urlencode({**query, **({'cursor': cursor} if cursor else {})})}")
        assert reply.status == 200, reply.body
        pages.append(reply.body)
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return pages


def test_a_large_message_and_its_api_data_read_in_pages(api_client: Api) -> None:
    post(api_client, "deliveries", records("big", "queued", 0, "campaign-7"))
    post(api_client, "deliveries", records("big", "succeeded", 1, "campaign-7"))
    bounces = load_fixture("seed_bounces_user_unknown")["event"]["bounces"][0]
    bounce = {
        **bounces,
        "messageId": "<big@example.com>",
        "to": "user0007@example.jp",
        "apiData": "campaign-7",
    }
    post(api_client, "bounces", [{**bounce, "created": "2026-01-01 00:02:00"}])

    pages = walk(api_client, "/messages/" + quote("<big@example.com>", safe=""), {"limit": "250"})

    events = [event["event_id"] for page in pages for event in page["events"]]
    statuses = {status["address"]: status["status"] for page in pages for status in page["recipients"]}
    assert len(events) == len(set(events)) == 2 * RECIPIENTS + 1
    assert sum(len(page["recipients"]) for page in pages) == len(statuses) == RECIPIENTS
    assert statuses.pop("user0007@example.jp") == "bounced"
    assert set(statuses.values()) == {"succeeded"}
    assert len(pages) == 5

    by_api_data = walk(
        api_client, contract.MESSAGES_BY_API_DATA_PATH, {"api_data": "campaign-7", "limit": "300"}
    )
    found = [
        (message["message_id"], status["address"], status["status"])
        for page in by_api_data
        for message in page["messages"]
        for status in message["recipients"]
    ]
    assert len(found) == len(set(found)) == RECIPIENTS
    assert {message_id for message_id, _, _ in found} == {"big@example.com"}
    assert ("big@example.com", "user0007@example.jp", "bounced") in found


def test_an_address_read_in_pages_is_suppressed_on_every_page(api_client: Api) -> None:
    bounce = load_fixture("seed_bounces_user_unknown")["event"]["bounces"][0]
    post(api_client, "bounces", [{**bounce, "to": "user0001@example.jp", "created": "2025-12-31 00:00:00"}])
    for message in range(5):
        post(api_client, "deliveries", records(f"m{message}", "succeeded", message)[1:2])

    pages = walk(api_client, "/recipients/user0001@example.jp", {"limit": "2"})

    assert [len(page["events"]) for page in pages] == [2, 2, 2]
    assert all(page["suppressed"] for page in pages)
    assert all(page["suppression_reason"] == "hard_bounce:user_unknown" for page in pages)


def refused(reply: Reply) -> str:
    assert reply.status == 400
    assert reply.body["error"] == "invalid_query"
    return str(reply.body["message"])


def test_a_bad_cursor_or_limit_is_a_json_400(api_client: Api) -> None:
    post(api_client, "deliveries", records("m", "queued", 0)[:3])
    path = "/messages/m@example.com"
    cursor = api_client.call("GET", f"{path}?limit=1").body["next_cursor"]

    assert "cursor" in refused(api_client.call("GET", f"{path}?{urlencode({'cursor': cursor[:-2]})}"))
    assert "another query" in refused(
        api_client.call("GET", f"/recipients/user0000@example.jp?{urlencode({'cursor': cursor})}")
    )
    assert "limit" in refused(api_client.call("GET", f"{path}?limit=0"))
    assert "api_data" in refused(api_client.call("GET", f"{contract.MESSAGES_BY_API_DATA_PATH}?api_data="))


def test_ids_and_addresses_a_path_cannot_carry_are_read_by_query_parameter(api_client: Api) -> None:
    bounce = load_fixture("seed_bounces_user_unknown")["event"]["bounces"][0]
    # Legal in a Message-ID and in an address's local part, a "/" can't travel in a path API Gateway routes.
    bounce = {**bounce, "messageId": "<a/b?c#d@example.com>", "to": "dept/sales@example.jp"}
    post(api_client, "bounces", [bounce])

    message = walk(api_client, contract.MESSAGES_BY_API_DATA_PATH, {"message_id": "<a/b?c#d@example.com>"})
    recipient = walk(api_client, contract.RECIPIENTS_PATH, {"address": "dept/sales@example.jp"})

    assert [page["message_id"] for page in message] == ["a/b?c#d@example.com"]
    assert [status["address"] for status in message[0]["recipients"]] == ["dept/sales@example.jp"]
    assert recipient[0]["suppressed"] is True
    assert len(recipient[0]["events"]) == 1
    both = urlencode({"message_id": "x@example.com", "api_data": "campaign-7"})
    assert "message_id" in refused(api_client.call("GET", f"{contract.MESSAGES_BY_API_DATA_PATH}?{both}"))
    assert "message_id" in refused(api_client.call("GET", contract.MESSAGES_BY_API_DATA_PATH))
    assert "address" in refused(api_client.call("GET", contract.RECIPIENTS_PATH))
