"""The lookups in pages: every event and every recipient once, each page's statuses from all the events,
cursors that only we issue and that stay correct after new writes."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cmc_webhooks import contract
from cmc_webhooks.errors import InvalidQuery
from cmc_webhooks.logic.ingest import IngestOptions, build_batch, parse_envelope
from cmc_webhooks.logic.lookup import (
    lookup_api_data,
    lookup_message,
    lookup_recipient,
    message_history,
    page_limit,
)
from cmc_webhooks.logic.suppression import SuppressionPolicy
from cmc_webhooks.models.api import ApiDataPage, MessageHistory, RecipientHistory
from cmc_webhooks.settings import parse_time_zone
from tests.conftest import load_fixture
from tests.unit.memory_store import MemoryStore

OPTIONS = IngestOptions(
    time_zone=parse_time_zone("Asia/Tokyo"), retention=timedelta(days=30), max_records=5000
)
POLICY = SuppressionPolicy()


def record(
    event_type: str, message: str, to: str, status: str, minute: int, api_data: str = ""
) -> dict[str, Any]:
    fixture = "seed_bounces_user_unknown" if event_type == "bounces" else "seed_deliveries_succeeded"
    document = load_fixture(fixture)
    found = copy.deepcopy(document["event"][event_type][0])
    found.update(
        messageId=f"<{message}@example.com>",
        to=to,
        status=status,
        created=f"2026-01-{1 + minute // 1440:02d} {minute // 60 % 24:02d}:{minute % 60:02d}:00",
        apiData=api_data,
    )
    return dict(found)


def store_records(store: MemoryStore, records: list[dict[str, Any]]) -> None:
    for event_type in ("deliveries", "bounces"):
        chosen = [found for found in records if ("to" in found) and _type(found) == event_type]
        if chosen:
            document = {"event_type": event_type, "server_composition": "pro", "event": {event_type: chosen}}
            batch = build_batch(parse_envelope(document), options=OPTIONS, received_at=datetime.now(UTC))
            store.write(batch.items)


def _type(found: dict[str, Any]) -> str:
    return "bounces" if found["status"].isdigit() else "deliveries"


def message_pages(store: MemoryStore, message_id: str, limit: int) -> list[MessageHistory]:
    pages = [lookup_message(store, message_id, limit=limit)]
    while pages[-1].next_cursor is not None:
        pages.append(lookup_message(store, message_id, limit=limit, cursor=pages[-1].next_cursor))
    return pages


def recipient_pages(store: MemoryStore, address: str, limit: int) -> list[RecipientHistory]:
    pages = [lookup_recipient(store, address, POLICY, limit=limit)]
    while pages[-1].next_cursor is not None:
        pages.append(lookup_recipient(store, address, POLICY, limit=limit, cursor=pages[-1].next_cursor))
    return pages


def api_data_pages(store: MemoryStore, api_data: str, limit: int) -> list[ApiDataPage]:
    pages = [lookup_api_data(store, api_data, limit=limit)]
    while pages[-1].next_cursor is not None:
        pages.append(lookup_api_data(store, api_data, limit=limit, cursor=pages[-1].next_cursor))
    return pages


def a_message(store: MemoryStore, recipients: int = 7, message: str = "m") -> None:
    records = []
    for n in range(recipients):
        to = f"user{n}@example.jp"
        records += [
            record("deliveries", message, to, "queued", n),
            record("deliveries", message, to, "deferred", n + 1),
        ]
        # Every third recipient bounces; the others are delivered, and a late `queued` changes nothing.
        if n % 3 == 0:
            records.append(record("bounces", message, to, "1", n + 2))
        else:
            records += [
                record("deliveries", message, to, "succeeded", n + 2),
                record("deliveries", message, to, "queued", n + 9),
            ]
    store_records(store, records)


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 1000])
def test_a_message_in_pages_holds_every_event_and_recipient_once_each_status_from_all_its_events(
    limit: int,
) -> None:
    store = MemoryStore()
    a_message(store)
    whole = message_history("m@example.com", list(store.items.values()))
    expected = {status.address: status for status in whole.recipients}

    pages = message_pages(store, "<m@example.com>", limit)

    events = [event.event_id for page in pages for event in page.events]
    recipients = [status for page in pages for status in page.recipients]
    assert sorted(events) == sorted(event.event_id for event in whole.events)
    assert len(events) == len(set(events))
    assert sorted(status.address for status in recipients) == sorted(expected)
    for status in recipients:
        assert status == expected[status.address]
    assert {status.status for status in recipients} == {"bounced", "succeeded"}
    assert len(pages) == -(-len(events) // limit)
    assert all(len(page.events) <= limit for page in pages)
    assert pages[-1].next_cursor is None
    assert all(page.next_cursor for page in pages[:-1])


def test_a_page_holds_a_recipients_events_together_in_time_order() -> None:
    store = MemoryStore()
    a_message(store, recipients=3)

    [page] = message_pages(store, "m@example.com", 1000)

    recipients = [event.recipient or "" for event in page.events]
    assert recipients == sorted(recipients)
    for address in set(recipients):
        times = [event.occurred_at or "" for event in page.events if event.recipient == address]
        assert times == sorted(times)


def test_the_first_page_keeps_the_keys_callers_know() -> None:
    store = MemoryStore()
    a_message(store, recipients=2)

    first = lookup_message(store, "m@example.com", limit=2).model_dump()

    assert set(first) == {"message_id", "recipients", "events", "next_cursor"}
    assert first["message_id"] == "m@example.com"


def tampered(cursor: str) -> list[str]:
    body, _, check = cursor.partition(".")
    flipped = body[:5] + ("A" if body[5] != "A" else "B") + body[6:]
    return [f"{flipped}.{check}", cursor[:-3], body, "not-a-cursor", cursor + "x", "é" + cursor, ""]


def test_a_cursor_we_did_not_issue_is_refused_with_a_message_naming_it() -> None:
    store = MemoryStore()
    a_message(store, recipients=3)
    cursor = lookup_message(store, "m@example.com", limit=2).next_cursor
    assert cursor is not None

    for bad in tampered(cursor):
        with pytest.raises(InvalidQuery, match="cursor"):
            lookup_message(store, "m@example.com", limit=2, cursor=bad)


def test_a_cursor_of_another_query_is_refused() -> None:
    store = MemoryStore()
    a_message(store, recipients=3, message="m")
    a_message(store, recipients=3, message="n")
    cursor = lookup_message(store, "m@example.com", limit=2).next_cursor
    assert cursor is not None

    with pytest.raises(InvalidQuery, match="another query"):
        lookup_message(store, "n@example.com", limit=2, cursor=cursor)
    with pytest.raises(InvalidQuery, match="another query"):
        lookup_recipient(store, "user0@example.jp", POLICY, cursor=cursor)
    with pytest.raises(InvalidQuery, match="another query"):
        lookup_api_data(store, "m@example.com", cursor=cursor)


def test_a_cursor_stays_correct_after_new_writes() -> None:
    store = MemoryStore()
    a_message(store, recipients=4)
    before = {item["event_id"] for item in store.items.values()}
    first = lookup_message(store, "m@example.com", limit=6)
    assert first.next_cursor is not None
    # New events: of a recipient already read, of the one the page ended in, of one still to come.
    store_records(
        store,
        [
            record("deliveries", "m", "user0@example.jp", "succeeded", 50),
            record("deliveries", "m", "user1@example.jp", "succeeded", 51),
            record("deliveries", "m", "user9@example.jp", "queued", 52),
        ],
    )
    rest = [first]
    while rest[-1].next_cursor is not None:
        rest.append(lookup_message(store, "m@example.com", limit=6, cursor=rest[-1].next_cursor))

    read = [event.event_id for page in rest for event in page.events]
    assert len(read) == len(set(read))
    assert before <= set(read)
    listed = [status.address for page in rest for status in page.recipients]
    assert sorted(listed) == [f"user{n}@example.jp" for n in (0, 1, 2, 3, 9)]
    # The status of a recipient listed after the writes counts them.
    later = {status.address: status.status for page in rest[1:] for status in page.recipients}
    assert later.get("user9@example.jp") == "queued"


def test_an_address_in_pages_is_suppressed_on_every_page_by_a_bounce_on_the_last() -> None:
    store = MemoryStore()
    records = [record("bounces", "m0", "user@example.jp", "1", 0)]
    records += [record("deliveries", f"m{n}", "user@example.jp", "succeeded", n * 10) for n in range(1, 30)]
    store_records(store, records)

    pages = recipient_pages(store, "user@example.jp", 7)

    events = [event for page in pages for event in page.events]
    assert len(events) == 30 == len({event.event_id for event in events})
    times = [event.occurred_at or "" for event in events]
    assert times == sorted(times, reverse=True)
    assert len(pages) == 5
    for page in pages:
        assert page.suppressed
        assert page.suppression_reason == "hard_bounce:user_unknown"
        assert page.suppressed_since == events[-1].occurred_at


def test_an_unknown_address_is_one_empty_page() -> None:
    [page] = recipient_pages(MemoryStore(), "nobody@example.jp", 10)
    assert page.events == []
    assert not page.suppressed
    assert page.next_cursor is None


def test_api_data_finds_every_message_carrying_it_with_each_recipients_status() -> None:
    store = MemoryStore()
    records = []
    for message, recipients, api_data in (
        ("m1", 3, "campaign-1"),
        ("m2", 2, "campaign-1"),
        ("m3", 2, "campaign-2"),
        ("m4", 2, ""),
    ):
        for n in range(recipients):
            to = f"user{n}@example.jp"
            records += [
                record("deliveries", message, to, "queued", n, api_data),
                record("deliveries", message, to, "succeeded", n + 1, api_data),
            ]
    records.append(record("bounces", "m1", "user0@example.jp", "1", 30, "campaign-1"))
    store_records(store, records)

    for limit in (1, 2, 3, 100):
        pages = api_data_pages(store, "campaign-1", limit)
        found = [
            (message.message_id, status.address, status.status)
            for page in pages
            for message in page.messages
            for status in message.recipients
        ]
        assert sorted(found) == [
            ("m1@example.com", "user0@example.jp", "bounced"),
            ("m1@example.com", "user1@example.jp", "succeeded"),
            ("m1@example.com", "user2@example.jp", "succeeded"),
            ("m2@example.com", "user0@example.jp", "succeeded"),
            ("m2@example.com", "user1@example.jp", "succeeded"),
        ], limit
        assert pages[-1].next_cursor is None
    assert not any("api_data_key" in item for item in store.items.values() if "api_data" not in item)
    assert api_data_pages(store, "campaign-3", 10) == [ApiDataPage(api_data="campaign-3", messages=[])]


def test_an_api_data_too_long_to_be_a_key_is_found_too() -> None:
    store = MemoryStore()
    longest = "\U0001f600" * 998  # CMC's bound in characters; 3,992 bytes of UTF-8
    store_records(store, [record("deliveries", "m", "user@example.jp", "queued", 0, longest)])

    [page] = api_data_pages(store, longest, 10)

    assert [message.message_id for message in page.messages] == ["m@example.com"]


def test_api_data_is_required() -> None:
    with pytest.raises(InvalidQuery, match="api_data"):
        lookup_api_data(MemoryStore(), "")


@pytest.mark.parametrize(
    "text", ["0", "-1", "1.5", "abc", "", str(contract.PAGE_LIMIT_MAX + 1), "\uff11\uff10"]
)  # full-width digits
def test_a_limit_out_of_range_is_refused(text: str) -> None:
    with pytest.raises(InvalidQuery, match="limit"):
        page_limit(text)


def test_the_limit_defaults_and_takes_its_bounds() -> None:
    assert page_limit(None) == contract.PAGE_LIMIT_DEFAULT
    assert page_limit("1") == 1
    assert page_limit(str(contract.PAGE_LIMIT_MAX)) == contract.PAGE_LIMIT_MAX


def test_pages_of_large_events_stay_under_a_megabyte_and_hold_them_all() -> None:
    store = MemoryStore()
    big = "\U0001f600" * 10_000  # the longest subject CMC's model takes, 40 KB of UTF-8
    records = [record("deliveries", "m", f"user{n}@example.jp", "queued", n) for n in range(60)]
    for found in records:
        found["subject"] = big
    store_records(store, records)

    pages = message_pages(store, "m@example.com", contract.PAGE_LIMIT_MAX)

    assert len(pages) > 1
    for page in pages:
        assert len(json.dumps(page.model_dump(), ensure_ascii=False).encode()) < 1_000_000
    assert sum(len(page.events) for page in pages) == 60
    assert sum(len(page.recipients) for page in pages) == 60
